// java bench/TlsPerCallCost.java: the per-call CPU of what a secured node adds to each gRPC call,
// measured in isolation on one thread, as CPU time (so that other processes on the machine do not
// inflate it, as they inflate the whole-cluster figures of bench/compare.sh):
//   - the token check: SHA-256 of the bearer token, in hex, looked up in a map (what
//     dev.baton.server.security.AuthTokens.lookup does for every call on a node with --auth-token-file);
//   - sealing one TLS 1.3 record of 200 bytes (about an acquire or its answer with HTTP/2 framing)
//     with AES-256-GCM through the JDK's javax.crypto, a stand-in for the record layer's work.
// Three rounds of a million each; the first rounds include the JIT's warm-up. It leaves out the
// TLS library's own buffering and the handshake (once per connection, not per call).
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

public class TlsPerCallCost {
    public static void main(String[] args) throws Exception {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        int n = 1_000_000;
        long sink = 0;

        String token = "q3Yx0_9aZkLmN4pQrStUvWxYz0123456789abcdefGH"; // 43 characters, as `baton token new` makes
        Map<String, String> tokens = Map.of(sha256Hex(token), "bench");
        for (int round = 1; round <= 3; round++) {
            long t0 = mx.getCurrentThreadCpuTime();
            for (int i = 0; i < n; i++) {
                sink += tokens.get(sha256Hex(token)) != null ? 1 : 0;
            }
            System.out.printf("round %d: token check %.2f us CPU per call%n", round,
                    (mx.getCurrentThreadCpuTime() - t0) / 1000.0 / n);
        }

        byte[] key = new byte[32];
        byte[] nonce = new byte[12];
        byte[] record = new byte[200];
        Cipher aes = Cipher.getInstance("AES/GCM/NoPadding");
        for (int round = 1; round <= 3; round++) {
            long t0 = mx.getCurrentThreadCpuTime();
            for (int i = 0; i < n; i++) {
                // GCM refuses a nonce used before with the same key: a new one per record, as TLS does.
                nonce[0] = (byte) i;
                nonce[1] = (byte) (i >> 8);
                nonce[2] = (byte) (i >> 16);
                nonce[3] = (byte) round;
                aes.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"), new GCMParameterSpec(128, nonce));
                sink += aes.doFinal(record).length;
            }
            System.out.printf("round %d: AES-256-GCM seal of a 200-byte record %.2f us CPU%n", round,
                    (mx.getCurrentThreadCpuTime() - t0) / 1000.0 / n);
        }
        System.out.println(sink > 0 ? "" : "?"); // keeps the work from being optimised away
    }

    private static String sha256Hex(String s) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    }
}
