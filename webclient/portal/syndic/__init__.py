"""BCE ACP: registering, changing and ending a syndic's mandate in the Crossroads Bank for
Enterprises through an enterprise counter (the ``bceacp`` tool)."""
