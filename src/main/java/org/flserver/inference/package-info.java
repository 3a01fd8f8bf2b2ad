/**
 * The inference API: input decoding, the TorchScript archive check, uncertainty statistics and the
 * backend seam. At the top of the stack: may import every package below it, but not {@code web}.
 */
package org.flserver.inference;
