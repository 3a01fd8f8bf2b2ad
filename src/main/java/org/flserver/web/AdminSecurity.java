package org.flserver.web;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.security.enterprise.authentication.mechanism.http.CustomFormAuthenticationMechanismDefinition;
import jakarta.security.enterprise.authentication.mechanism.http.LoginToContinue;
import org.flserver.user.AdminIdentityStore;

/**
 * Switches on Jakarta Security for the admin pages: a form login at {@code /admin/login.xhtml}
 * (driven by {@link AdminLogin}) backed by {@link AdminIdentityStore}. The {@value #ROLE} role,
 * which URLs need it (all of /admin/ but the login page and its CSS) and its mapping to the store's
 * group are declared in web.xml and glassfish-web.xml.
 *
 * <p>Why the mechanism leaves the API alone: a form mechanism acts only when a protected URL is
 * requested or the login bean asks it to; {@code /api/**} is not protected in web.xml, so its
 * requests pass through unauthenticated by the container and the API's own filter answers
 * {@code Authorization} headers (Token and Basic) with its own 401 bodies.
 */
@ApplicationScoped
@CustomFormAuthenticationMechanismDefinition(
        loginToContinue = @LoginToContinue(loginPage = "/admin/login.xhtml", errorPage = ""))
public class AdminSecurity {

    /** The role web.xml requires for /admin/*; the identity store's group maps to it. */
    public static final String ROLE = AdminIdentityStore.ADMIN_GROUP;
}
