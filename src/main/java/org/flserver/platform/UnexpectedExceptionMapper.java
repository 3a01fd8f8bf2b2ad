package org.flserver.platform;

import jakarta.ejb.EJBException;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.ext.ExceptionMapper;
import jakarta.ws.rs.ext.Provider;
import jakarta.ws.rs.ext.Providers;
import jakarta.ws.rs.core.Context;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Last line: anything not foreseen becomes a JSON 500 without a stack trace (the trace goes to
 * the server log). EJB-wrapped refusals are unwrapped first, so a refusal thrown deep inside a
 * service still answers with its own status.
 */
@Provider
public class UnexpectedExceptionMapper implements ExceptionMapper<Throwable> {

    private static final Logger LOG = Logger.getLogger(UnexpectedExceptionMapper.class.getName());

    @Context
    Providers providers;

    @Override
    @SuppressWarnings({"unchecked", "rawtypes"})
    public Response toResponse(Throwable e) {
        Throwable cause = e;
        while ((cause instanceof EJBException || cause instanceof jakarta.transaction.RollbackException)
                && cause.getCause() != null) {
            cause = cause.getCause();
        }
        if (cause instanceof ApiException api) {
            return api.toResponse();
        }
        if (cause instanceof WebApplicationException && cause != e) {
            ExceptionMapper mapper = providers.getExceptionMapper(cause.getClass());
            if (mapper != null) {
                return mapper.toResponse(cause);
            }
        }
        LOG.log(Level.SEVERE, "unexpected failure", e);
        return ApiException.detail(500, "Internal server error.").toResponse();
    }
}
