"""reorder_relay.py — a two-port Ethernet relay for the DPDK fault tests:
frames read from one interface (AF_PACKET) go out of the other unchanged,
except that with probability P a frame is held back and sent after the next
frame in the same direction (or after 5 ms of quiet), so the receiver sees
them swapped. The kernel has no netem here; this stands in for its reorder.
Usage: reorder_relay.py IF_A IF_B P   (runs until killed)
"""
import random
import select
import socket
import sys

ETH_P_ALL = 3


def open_if(name):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((name, 0))
    s.setblocking(False)
    return s


def main():
    a, b, prob = sys.argv[1], sys.argv[2], float(sys.argv[3])
    sa, sb = open_if(a), open_if(b)
    peer = {sa: sb, sb: sa}
    held = {sa: None, sb: None}
    swapped = 0
    while True:
        r, _, _ = select.select([sa, sb], [], [], 0.005)
        if not r:
            for s in (sa, sb):
                if held[s] is not None:
                    peer[s].send(held[s])
                    held[s] = None
            continue
        for s in r:
            while True:
                try:
                    data, addr = s.recvfrom(65535)
                except BlockingIOError:
                    break
                if addr[2] == socket.PACKET_OUTGOING:
                    continue
                if held[s] is None and random.random() < prob:
                    held[s] = data
                    continue
                peer[s].send(data)
                if held[s] is not None:
                    peer[s].send(held[s])
                    held[s] = None
                    swapped += 1


if __name__ == '__main__':
    main()
