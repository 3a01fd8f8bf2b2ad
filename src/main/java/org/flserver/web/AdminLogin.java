package org.flserver.web;

import static jakarta.security.enterprise.authentication.mechanism.http.AuthenticationParameters.withParams;

import jakarta.enterprise.context.RequestScoped;
import jakarta.faces.application.FacesMessage;
import jakarta.faces.context.ExternalContext;
import jakarta.faces.context.FacesContext;
import jakarta.inject.Inject;
import jakarta.inject.Named;
import jakarta.security.enterprise.AuthenticationStatus;
import jakarta.security.enterprise.SecurityContext;
import jakarta.security.enterprise.credential.Password;
import jakarta.security.enterprise.credential.UsernamePasswordCredential;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.flserver.user.AdminIdentityStore;

/**
 * Backing bean of the login page ({@code /admin/login.xhtml}) and of the logout button. Login
 * hands the credentials to Jakarta Security, which checks them against
 * {@link AdminIdentityStore}; a successful login lands on the trainings list.
 */
@Named
@RequestScoped
public class AdminLogin {

    /** One message for every refusal: it does not reveal whether the user exists or is no superuser. */
    static final String REFUSED = "Login failed: wrong username or password, or not an administrator.";

    /** Too many failed logins (for this username or from this address); the password was not checked. */
    static final String THROTTLED = "Too many failed logins. Try again in %d seconds.";

    @Inject
    SecurityContext securityContext;

    @Inject
    FacesContext faces;

    private String username;
    private String password;

    public String login() {
        ExternalContext external = faces.getExternalContext();
        AuthenticationStatus status = securityContext.authenticate(
                (HttpServletRequest) external.getRequest(), (HttpServletResponse) external.getResponse(),
                withParams().newAuthentication(true)
                        .credential(new UsernamePasswordCredential(username == null ? "" : username,
                                new Password(password == null ? "" : password))));
        switch (status) {
            case SEND_CONTINUE:
                // The mechanism has written the redirect to the page that asked for the login.
                faces.responseComplete();
                return null;
            case SUCCESS:
                // No page to continue to (a new authentication starts a fresh dialog): the start page.
                return "/admin/trainings.xhtml?faces-redirect=true";
            default:
                // A fresh session: Soteria (Payara's Jakarta Security) leaves its "caller-initiated
                // authentication" mark in the session after a failed attempt, and with it every later
                // protected page answered an empty 200 instead of the login form.
                external.invalidateSession();
                Object wait = ((HttpServletRequest) external.getRequest())
                        .getAttribute(AdminIdentityStore.RETRY_AFTER_ATTRIBUTE);
                if (wait instanceof Long seconds) {
                    // not checked at all (too many failures): the API's 429, as a page
                    HttpServletResponse response = (HttpServletResponse) external.getResponse();
                    response.setStatus(429);
                    response.setHeader("Retry-After", seconds.toString());
                    faces.addMessage(null, new FacesMessage(FacesMessage.SEVERITY_ERROR,
                            String.format(THROTTLED, seconds), null));
                    return null;
                }
                faces.addMessage(null, new FacesMessage(FacesMessage.SEVERITY_ERROR, REFUSED, null));
                return null;
        }
    }

    public String logout() {
        ExternalContext external = faces.getExternalContext();
        try {
            ((HttpServletRequest) external.getRequest()).logout();
        } catch (jakarta.servlet.ServletException e) {
            // Nothing to undo: the session is dropped below either way.
        }
        external.invalidateSession();
        return "/admin/login.xhtml?faces-redirect=true";
    }

    /** The logged-in administrator's name for the page header (empty on the login page). */
    public String getCaller() {
        return securityContext.getCallerPrincipal() == null ? "" : securityContext.getCallerPrincipal().getName();
    }

    public String getUsername() {
        return username;
    }

    public void setUsername(String username) {
        this.username = username;
    }

    public String getPassword() {
        return password;
    }

    public void setPassword(String password) {
        this.password = password;
    }
}
