/**
 * The inference worker process and its pipe protocol; runs outside the application server. Part of
 * {@code inference}; may import what {@code inference} may.
 */
package org.flserver.inference.worker;
