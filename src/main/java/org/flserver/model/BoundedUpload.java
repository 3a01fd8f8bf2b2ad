package org.flserver.model;

import jakarta.ws.rs.NameBinding;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a resource method whose request body is an upload bounded by {@link UploadLimitFilter}
 * (its size) and {@link FormLimitFilter} (its parts and text fields).
 */
@NameBinding
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.TYPE, ElementType.METHOD})
public @interface BoundedUpload {

    /**
     * Form fields that may carry a large value without a file name (the inference input): they
     * count as parts but not against the text-field limits; the route bounds them itself.
     */
    String[] largeFields() default {};
}
