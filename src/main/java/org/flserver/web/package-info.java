/**
 * The JSF admin pages: the trainings list and detail, read-only views over the other packages.
 * At the top of the stack: may import every package below it, but not {@code inference}.
 */
package org.flserver.web;
