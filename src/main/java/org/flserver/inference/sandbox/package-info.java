/**
 * Starts, pools and kills the sandboxed inference worker processes (bubblewrap, seccomp). Part of
 * {@code inference}; may import what {@code inference} may.
 */
package org.flserver.inference.sandbox;
