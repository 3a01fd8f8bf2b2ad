package org.flserver.user;

import jakarta.ws.rs.core.Response;
import org.flserver.platform.ApiException;

/**
 * A refusal that tells the client when to come back ({@code Retry-After}, in seconds): 429 when
 * too many password checks failed or too many sign-ups came (from one address, or from all
 * together), 503 when too many were waiting to run (or, {@link #unavailable}, too many of some
 * other bounded work, such as upload checks). The password texts follow DRF's throttling answer,
 * which clients of the reference server already know.
 */
public class RetryLater extends ApiException {

    private final long seconds;

    private RetryLater(int status, String text, long seconds) {
        super(status, org.flserver.platform.Jsonp.createObjectBuilder().add("detail", text).build(), text);
        this.seconds = seconds;
    }

    /** 429: the password was not checked because of earlier failures. */
    public static RetryLater throttled(long seconds) {
        return new RetryLater(429, "Request was throttled. Expected available in " + inSeconds(seconds), seconds);
    }

    /** 429: the client's address made as many sign-ups as its window allows. */
    public static RetryLater tooManySignUps(int max, long windowSeconds, long seconds) {
        return signUps("from this address", max, windowSeconds, seconds);
    }

    /** 429: all addresses together made {@code max} sign-ups in the window; it ends in {@code seconds}. */
    public static RetryLater tooManySignUpsOnServer(int max, long windowSeconds, long seconds) {
        return signUps("on this server", max, windowSeconds, seconds);
    }

    private static RetryLater signUps(String where, int max, long windowSeconds, long seconds) {
        return new RetryLater(429, "Too many sign-ups " + where + ": at most " + max + " in " + windowSeconds
                + " seconds. Try again in " + inSeconds(seconds), seconds);
    }

    /** 503: every verification slot was taken for too long. */
    public static RetryLater busy(long seconds) {
        return new RetryLater(503, "Too many password checks at once. Try again in " + inSeconds(seconds), seconds);
    }

    /** 503 with the given text: some other bounded resource stayed taken for too long. */
    public static RetryLater unavailable(String text, long seconds) {
        return new RetryLater(503, text, seconds);
    }

    /** "1 second." or "N seconds.", the end of every text here. */
    private static String inSeconds(long seconds) {
        return seconds + (seconds == 1 ? " second." : " seconds.");
    }

    public long seconds() {
        return seconds;
    }

    @Override
    public Response toResponse() {
        return Response.fromResponse(super.toResponse()).header("Retry-After", Long.toString(seconds)).build();
    }
}
