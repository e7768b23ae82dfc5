// Anchor for SM2 encryptions per second: BouncyCastle SM2Engine (C1C3C2) on the same public key
// and plaintext as miic's benchmark. usage: java -cp bcprov.jar:. Sm2Bc PUBLIC_KEY_HEX SECONDS
import java.security.SecureRandom;
import org.bouncycastle.asn1.gm.GMNamedCurves;
import org.bouncycastle.asn1.x9.X9ECParameters;
import org.bouncycastle.crypto.engines.SM2Engine;
import org.bouncycastle.crypto.params.ECDomainParameters;
import org.bouncycastle.crypto.params.ECPublicKeyParameters;
import org.bouncycastle.crypto.params.ParametersWithRandom;
import org.bouncycastle.util.encoders.Hex;

public class Sm2Bc {
    public static void main(String[] args) throws Exception {
        X9ECParameters x9 = GMNamedCurves.getByName("sm2p256v1");
        ECDomainParameters domain = new ECDomainParameters(x9.getCurve(), x9.getG(), x9.getN());
        ECPublicKeyParameters key = new ECPublicKeyParameters(x9.getCurve().decodePoint(Hex.decode(args[0])), domain);
        double seconds = Double.parseDouble(args[1]);
        byte[] plain = "11010119800101123X".getBytes("UTF-8");
        SM2Engine engine = new SM2Engine(SM2Engine.Mode.C1C3C2);
        engine.init(true, new ParametersWithRandom(key, new SecureRandom()));
        // Warm up the JIT, then count.
        for (int i = 0; i < 2000; i++) engine.processBlock(plain, 0, plain.length);
        long start = System.nanoTime(), n = 0;
        while (System.nanoTime() - start < seconds * 1e9) {
            Hex.toHexString(engine.processBlock(plain, 0, plain.length));
            n++;
        }
        System.out.printf(java.util.Locale.ROOT, "%.0f%n", n / ((System.nanoTime() - start) / 1e9));
    }
}
