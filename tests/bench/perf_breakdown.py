#!/usr/bin/python3
"""Where the gateway's time goes, from `perf script` output of a
`perf record --call-graph dwarf -p GATEWAY` (profile.sh): for each thread,
the share of its samples whose stack passes through each function of
interest (inclusive time; a sample counts for every listed function on its
stack, so the rows do not add up to 100 %).

Usage: perf script -F comm,tid,ip,sym,dso -i perf.data | perf_breakdown.py
"""

import collections
import sys

# (label, function names: the sample counts if any is on its stack)
ROWS = [
    ("lws_service: the whole event loop", {"lws_service"}),
    ("  poll() (waiting, and the syscall)", {"__GI___poll", "__poll"}),
    ("  zmq fd readable: gw_zmq s_drain", {"s_drain"}),
    ("    zmq_msg_recv / zmq_getsockopt", {"zmq_msg_recv", "zmq_getsockopt"}),
    ("    gw_broker_on_worker_frame", {"gw_broker_on_worker_frame"}),
    ("      sl_proto_decode (msgpack RESULT)", {"sl_proto_decode"}),
    ("      s_on_result", {"s_on_result"}),
    ("        sl_json_from_mp (value -> jansson)", {"sl_json_from_mp"}),
    ("        gw_frame_result (json_pack)", {"gw_frame_result"}),
    ("        gw_ws_client_send (queue a frame)", {"gw_ws_client_send"}),
    ("          json_dumpb (x2: size, then bytes)", {"json_dumpb"}),
    ("        json_decref of the frame", {"json_delete"}),
    ("      s_dispatch -> next JOB to a worker", {"s_dispatch"}),
    ("        gw_zmq_send / zmq_send", {"gw_zmq_send"}),
    ("  client socket writable: s_writeable", {"s_writeable"}),
    ("    lws_write (one send() per frame)", {"lws_write"}),
    ("  client frames in: gw_cmsg_parse (json_loadb)", {"gw_cmsg_parse"}),
    ("    s_make_jobs (items -> msgpack jobs)", {"s_make_jobs"}),
    ("  lws timers (__lws_sul_service_ripe)", {"__lws_sul_service_ripe"}),
    ("malloc / free (anywhere)", {"__GI___libc_malloc", "malloc", "_int_malloc",
                                  "__GI___libc_free", "cfree@GLIBC_2.2.5",
                                  "_int_free", "__libc_free"}),
    ("kernel: send/sendto syscalls", {"__x64_sys_sendto"}),
    ("kernel: recv/recvfrom syscalls", {"__x64_sys_recvfrom"}),
    ("kernel: poll/epoll syscalls", {"__x64_sys_poll", "__x64_sys_epoll_wait"}),
    ("kernel: eventfd/pipe write+read (zmq wake-ups)",
     {"__x64_sys_write", "__x64_sys_read"}),
    ("kernel: scheduler (context switches)", {"__schedule"}),
]


def samples(lines):
    """Yield (comm, [symbols from leaf to root]) per sample."""
    comm, stack = None, []
    for line in lines:
        if not line.strip():
            if comm is not None:
                yield comm, stack
            comm, stack = None, []
            continue
        if not line.startswith((" ", "\t")):
            comm, stack = line.split()[0], []
            continue
        parts = line.split(None, 1)
        if len(parts) == 2:
            stack.append(parts[1].rsplit(" (", 1)[0].strip())
    if comm is not None:
        yield comm, stack


def main():
    per_comm = collections.Counter()
    hits = collections.defaultdict(collections.Counter)
    for comm, stack in samples(sys.stdin):
        per_comm[comm] += 1
        names = set(stack)
        for label, funcs in ROWS:
            if names & funcs:
                hits[comm][label] += 1
    total = sum(per_comm.values())
    if not total:
        print("no samples")
        return 1
    print(f"{total} samples: " + ", ".join(
        f"{c} {n * 100 / total:.1f}%" for c, n in per_comm.most_common()))
    for comm, n in per_comm.most_common():
        print(f"\nthread {comm} ({n} samples = 100%):")
        for label, _ in ROWS:
            if hits[comm][label]:
                print(f"  {hits[comm][label] * 100 / n:5.1f}%  {label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
