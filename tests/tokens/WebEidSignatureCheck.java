// An independent check of Web eID token signatures with the JDK's own crypto (JCA), run by
// tests/tokens/test_interop.py as `java WebEidSignatureCheck.java` (JDK 11+ source launch).
//
// It recomputes what web-eid-authtoken-validation-java's AuthTokenSignatureValidator verifies
// (README "Authentication token format"): hash(origin) + hash(challenge nonce), the hash named
// by the last three characters of the JWA algorithm, verified with the certificate's key;
// ES* signatures are raw r||s (JCA "...withECDSAinP1363Format"), RS* PKCS#1 v1.5, PS* PSS
// with MGF1 and a salt as long as the hash (RFC 7518 section 3.5).
//
// Input: one token per line on stdin, tab-separated: origin, nonce, algorithm, base64
// certificate, base64 signature. Output: one line per token, "true" or "false".

import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.MGF1ParameterSpec;
import java.security.spec.PSSParameterSpec;
import java.util.Base64;

public class WebEidSignatureCheck {
    static boolean check(String origin, String nonce, String algorithm, String cert, String sig) {
        try {
            String bits = algorithm.substring(2);
            MessageDigest digest = MessageDigest.getInstance("SHA-" + bits);
            byte[] originHash = digest.digest(origin.getBytes(StandardCharsets.UTF_8));
            byte[] nonceHash = digest.digest(nonce.getBytes(StandardCharsets.UTF_8));
            byte[] data = new byte[originHash.length + nonceHash.length];
            System.arraycopy(originHash, 0, data, 0, originHash.length);
            System.arraycopy(nonceHash, 0, data, originHash.length, nonceHash.length);

            X509Certificate certificate = (X509Certificate) CertificateFactory.getInstance("X.509")
                .generateCertificate(new ByteArrayInputStream(Base64.getDecoder().decode(cert)));
            Signature verifier;
            if (algorithm.startsWith("ES")) {
                verifier = Signature.getInstance("SHA" + bits + "withECDSAinP1363Format");
            } else if (algorithm.startsWith("RS")) {
                verifier = Signature.getInstance("SHA" + bits + "withRSA");
            } else if (algorithm.startsWith("PS")) {
                verifier = Signature.getInstance("RSASSA-PSS");
                int saltLength = Integer.parseInt(bits) / 8;
                verifier.setParameter(new PSSParameterSpec("SHA-" + bits, "MGF1",
                    new MGF1ParameterSpec("SHA-" + bits), saltLength, 1));
            } else {
                return false;
            }
            verifier.initVerify(certificate.getPublicKey());
            verifier.update(data);
            return verifier.verify(Base64.getDecoder().decode(sig));
        } catch (Exception e) {
            return false;
        }
    }

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            String[] f = line.split("\t", -1);
            System.out.println(f.length == 5 && check(f[0], f[1], f[2], f[3], f[4]));
        }
    }
}
