/**
 * The Deep Java Library implementation of {@code TorchBackend}, run only inside worker processes;
 * the only code that names DJL types. Part of {@code inference}; may import what {@code inference} may.
 */
package org.flserver.inference.djl;
