package org.flserver.user;

import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;

/**
 * PBKDF2-HMAC-SHA256 password hashes in Django's text format
 * ({@code pbkdf2_sha256$<iterations>$<salt>$<base64 hash>}), so users moved over from a DLR server
 * keep their passwords. Verification reads the iteration count from the stored hash, so raising the
 * configured count affects new passwords only.
 */
public final class PasswordHasher {

    private static final String ALGORITHM = "pbkdf2_sha256";
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String SALT_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

    private PasswordHasher() {
    }

    public static String hash(String password, int iterations) {
        StringBuilder salt = new StringBuilder(22);
        for (int i = 0; i < 22; i++) {
            salt.append(SALT_CHARS.charAt(RANDOM.nextInt(SALT_CHARS.length())));
        }
        return ALGORITHM + "$" + iterations + "$" + salt + "$" + derive(password, salt.toString(), iterations);
    }

    /** True when {@code password} matches {@code stored}; false for any malformed stored value. */
    public static boolean verify(String password, String stored) {
        String[] parts = stored == null ? new String[0] : stored.split("\\$", -1);
        if (parts.length != 4 || !ALGORITHM.equals(parts[0])) {
            return false;
        }
        int iterations;
        try {
            iterations = Integer.parseInt(parts[1]);
        } catch (NumberFormatException e) {
            return false;
        }
        if (iterations < 1 || iterations > 10_000_000) {
            return false;
        }
        String expected = derive(password, parts[2], iterations);
        return MessageDigest.isEqual(expected.getBytes(java.nio.charset.StandardCharsets.US_ASCII),
                parts[3].getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    }

    private static String derive(String password, String salt, int iterations) {
        try {
            PBEKeySpec spec = new PBEKeySpec(password.toCharArray(),
                    salt.getBytes(java.nio.charset.StandardCharsets.UTF_8), iterations, 256);
            byte[] key = SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).getEncoded();
            spec.clearPassword();
            return Base64.getEncoder().encodeToString(key);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("PBKDF2WithHmacSHA256 is not available", e);
        }
    }

    /** A new API token: 20 random bytes as 40 lower-case hex digits, like DRF's tokens. */
    public static String newToken() {
        byte[] bytes = new byte[20];
        RANDOM.nextBytes(bytes);
        StringBuilder hex = new StringBuilder(40);
        for (byte b : bytes) {
            hex.append(Character.forDigit((b >> 4) & 0xf, 16)).append(Character.forDigit(b & 0xf, 16));
        }
        return hex.toString();
    }
}
