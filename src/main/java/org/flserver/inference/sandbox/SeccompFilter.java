package org.flserver.inference.sandbox;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The seccomp program bubblewrap installs in every inference worker ({@code bwrap --seccomp}): a
 * classic BPF filter that answers {@code EPERM} to the system calls no model and no JVM needs and
 * that widen what a compromised worker could try against the kernel — tracing other processes,
 * loading kernel modules or BPF programs, mounting, changing namespaces, keyrings,
 * {@code perf_event_open}, {@code userfaultfd}, {@code io_uring}, and sockets of any family but
 * {@code AF_UNIX} (the worker's network namespace is empty anyway; this also closes raw and netlink
 * sockets). Calls of another ABI (x32) are refused, and a process of another architecture is
 * killed. The same list that container runtimes deny by default, reduced to what applies here.
 *
 * <p>Written by hand rather than with libseccomp: it is a few dozen instructions, and generating
 * them here keeps the server free of native build steps. Only x86-64 is covered; on other
 * architectures {@link #forThisMachine()} is empty and workers run without a filter (the log says
 * so).
 */
final class SeccompFilter {

    private static final int AUDIT_ARCH_X86_64 = 0xC000003E;
    private static final int X32_SYSCALL_BIT = 0x40000000;
    private static final int SECCOMP_RET_KILL_PROCESS = 0x80000000;
    private static final int SECCOMP_RET_ERRNO = 0x00050000;
    private static final int SECCOMP_RET_ALLOW = 0x7fff0000;
    private static final int EPERM = 1;
    private static final int AF_UNIX = 1;

    private static final short LD_W_ABS = 0x20;
    private static final short JEQ_K = 0x15;
    private static final short JGE_K = 0x35;
    private static final short RET_K = 0x06;

    /** {@code struct seccomp_data}: nr at 0, arch at 4, args[0] (low half, little-endian) at 16. */
    private static final int NR = 0;
    private static final int ARCH = 4;
    private static final int ARG0 = 16;

    private static final int SOCKET = 41;

    /** x86-64 numbers of the refused calls. */
    private static final int[] REFUSED = {
        101, // ptrace
        310, 311, // process_vm_readv, process_vm_writev
        246, 320, // kexec_load, kexec_file_load
        175, 313, 176, 174, 177, 178, // init_module, finit_module, delete_module, create/get_kernel_syms/query_module
        169, 167, 168, 163, // reboot, swapon, swapoff, acct
        165, 166, 155, 161, // mount, umount2, pivot_root, chroot
        428, 429, 430, 431, 432, 442, // open_tree, move_mount, fsopen, fsconfig, fsmount, mount_setattr
        272, 308, // unshare, setns
        248, 249, 250, // add_key, request_key, keyctl
        321, 298, 323, // bpf, perf_event_open, userfaultfd
        303, 304, // name_to_handle_at, open_by_handle_at
        425, 426, 427, // io_uring_setup, io_uring_enter, io_uring_register
        164, 227, 159, 305, // settimeofday, clock_settime, adjtimex, clock_adjtime
        103, 134, 136, 139, 153, 156, 172, 173, 179, 180, 212, 300, // syslog, uselib, ustat, sysfs, vhangup,
        // _sysctl, iopl, ioperm, quotactl, nfsservctl, lookup_dcookie, fanotify_init
    };

    private SeccompFilter() {
    }

    /** The program for this machine, as {@code bwrap --seccomp} reads it; null where none is made. */
    static byte[] forThisMachine() {
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        return arch.equals("amd64") || arch.equals("x86_64") ? x8664() : null;
    }

    private record Insn(short code, String jt, String jf, int k) {
    }

    /** Assembles the program: jumps name labels, resolved to forward offsets. */
    static byte[] x8664() {
        List<Object> program = new ArrayList<>();
        program.add(new Insn(LD_W_ABS, null, null, ARCH));
        program.add(new Insn(JEQ_K, null, "kill", AUDIT_ARCH_X86_64));
        program.add(new Insn(LD_W_ABS, null, null, NR));
        program.add(new Insn(JGE_K, "deny", null, X32_SYSCALL_BIT));
        for (int nr : REFUSED) {
            program.add(new Insn(JEQ_K, "deny", null, nr));
        }
        program.add(new Insn(JEQ_K, "socket", null, SOCKET));
        program.add(new Insn(RET_K, null, null, SECCOMP_RET_ALLOW));
        program.add("socket");
        program.add(new Insn(LD_W_ABS, null, null, ARG0));
        program.add(new Insn(JEQ_K, "unix", "deny", AF_UNIX));
        program.add("deny");
        program.add(new Insn(RET_K, null, null, SECCOMP_RET_ERRNO | EPERM));
        program.add("kill");
        program.add(new Insn(RET_K, null, null, SECCOMP_RET_KILL_PROCESS));
        // classic BPF jumps only forward: the socket check's allow comes last
        program.add("unix");
        program.add(new Insn(RET_K, null, null, SECCOMP_RET_ALLOW));
        return assemble(program);
    }

    private static byte[] assemble(List<Object> program) {
        List<Insn> insns = new ArrayList<>();
        Map<String, Integer> labels = new HashMap<>();
        for (Object o : program) {
            if (o instanceof String label) {
                labels.put(label, insns.size());
            } else {
                insns.add((Insn) o);
            }
        }
        ByteBuffer out = ByteBuffer.allocate(insns.size() * 8).order(ByteOrder.nativeOrder());
        for (int i = 0; i < insns.size(); i++) {
            Insn insn = insns.get(i);
            out.putShort(insn.code());
            out.put(offset(labels, insn.jt(), i));
            out.put(offset(labels, insn.jf(), i));
            out.putInt(insn.k());
        }
        return out.array();
    }

    /** Instructions to skip after {@code from} to reach {@code label} (0: the next one). */
    private static byte offset(Map<String, Integer> labels, String label, int from) {
        if (label == null) {
            return 0;
        }
        int skip = labels.get(label) - from - 1;
        if (skip < 0 || skip > 255) {
            throw new IllegalStateException("jump to " + label + " out of range: " + skip);
        }
        return (byte) skip;
    }
}
