// The registration form: the suggested username follows the names as they are typed, until
// the user edits it (a separate file so the Content-Security-Policy can forbid inline code).
(function () {
  // Fill the suggested username as the names are typed, until the user edits it.
  var first = document.getElementById("f-first_name");
  var last = document.getElementById("f-last_name");
  var username = document.getElementById("f-username");
  if (!first || !last || !username) { return; }
  var touched = username.value !== "";
  username.addEventListener("input", function () { touched = username.value !== ""; });
  function update() {
    if (touched || !first.value.trim() || !last.value.trim()) { return; }
    var query = "?first=" + encodeURIComponent(first.value) + "&last=" + encodeURIComponent(last.value);
    fetch("/register/suggest" + query, {headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data && !touched) { username.value = data.username; } })
      .catch(function () {});
  }
  first.addEventListener("change", update);
  last.addEventListener("change", update);
})();
