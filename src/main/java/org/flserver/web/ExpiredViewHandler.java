package org.flserver.web;

import jakarta.faces.FacesException;
import jakarta.faces.application.ViewExpiredException;
import jakarta.faces.context.ExceptionHandler;
import jakarta.faces.context.ExceptionHandlerFactory;
import jakarta.faces.context.ExceptionHandlerWrapper;
import jakarta.faces.context.FacesContext;
import jakarta.faces.event.ExceptionQueuedEvent;
import java.io.IOException;
import java.util.Iterator;

/**
 * Sends a form post whose view has expired (the session timed out, or the server restarted, while
 * the page was open) to the login page with a redirect, instead of an error page with status 500.
 * Without a session the poster is logged out anyway, so the login page is the honest answer for
 * both admin forms (login and logout). Registered in faces-config.xml.
 */
public class ExpiredViewHandler extends ExceptionHandlerWrapper {

    static final String LOGIN_PAGE = "/admin/login.xhtml";

    public ExpiredViewHandler(ExceptionHandler wrapped) {
        super(wrapped);
    }

    @Override
    public void handle() {
        Iterator<ExceptionQueuedEvent> events = getUnhandledExceptionQueuedEvents().iterator();
        while (events.hasNext()) {
            Throwable thrown = events.next().getContext().getException();
            if (isExpiredView(thrown)) {
                events.remove();
                FacesContext faces = FacesContext.getCurrentInstance();
                try {
                    faces.getExternalContext().redirect(faces.getExternalContext().getRequestContextPath() + LOGIN_PAGE);
                } catch (IOException e) {
                    throw new FacesException(e);
                }
                faces.responseComplete();
                return;
            }
        }
        super.handle();
    }

    private static boolean isExpiredView(Throwable thrown) {
        for (Throwable t = thrown; t != null; t = t.getCause()) {
            if (t instanceof ViewExpiredException) {
                return true;
            }
        }
        return false;
    }

    /** The factory faces-config.xml names; it wraps the implementation's handler. */
    public static class Factory extends ExceptionHandlerFactory {

        public Factory(ExceptionHandlerFactory wrapped) {
            super(wrapped);
        }

        @Override
        public ExceptionHandler getExceptionHandler() {
            return new ExpiredViewHandler(getWrapped().getExceptionHandler());
        }
    }
}
