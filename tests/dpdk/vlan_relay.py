"""vlan_relay.py — an 802.1Q tagging relay for the DPDK VLAN test, standing
in for a VLAN sub-interface (this kernel has no 8021q module): frames from
the DPDK side (IF_TAGGED) must carry VLAN VID and leave towards the client
(IF_PLAIN) untagged; the client's frames go to the DPDK side tagged with
VID. Broadcasts from the client are also sent untagged and tagged with
VID + 1, which the server must drop and count. Frames from the DPDK side
with another tag or none are counted and dropped; the counts are printed on
SIGTERM.

The kernel moves a received tag into packet metadata, so tags are read
from PACKET_AUXDATA.
Usage: vlan_relay.py IF_TAGGED IF_PLAIN VID   (runs until killed)
"""
import select
import signal
import socket
import struct
import sys

ETH_P_ALL = 3
SOL_PACKET = 263
PACKET_AUXDATA = 8
TP_STATUS_VLAN_VALID = 0x10


def open_if(name):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    s.bind((name, 0))
    s.setblocking(False)
    return s


def tag(frame, vid):
    return frame[:12] + struct.pack('!HH', 0x8100, vid) + frame[12:]


def read_vlan(data, anc):
    """(vid or None, frame without the tag)."""
    for level, typ, val in anc:
        if level == SOL_PACKET and typ == PACKET_AUXDATA and len(val) >= 20:
            status, = struct.unpack_from('I', val, 0)
            tci, = struct.unpack_from('H', val, 16)
            if status & TP_STATUS_VLAN_VALID:
                return tci & 0xfff, data
    if len(data) >= 18 and data[12:14] == b'\x81\x00':
        return struct.unpack_from('!H', data, 14)[0] & 0xfff, data[:12] + data[16:]
    return None, data


def main():
    tagged, plain, vid = sys.argv[1], sys.argv[2], int(sys.argv[3])
    st, sp = open_if(tagged), open_if(plain)
    bad = {'untagged': 0, 'other_vlan': 0, 'ok': 0}

    def report(*_):
        print('vlan_relay: %(ok)d tagged frames, %(untagged)d untagged, '
              '%(other_vlan)d other VLAN' % bad, flush=True)
        sys.exit(0)
    signal.signal(signal.SIGTERM, report)
    while True:
        r, _, _ = select.select([st, sp], [], [], 0.5)
        for s in r:
            while True:
                try:
                    data, anc, _, addr = s.recvmsg(65535, 256)
                except BlockingIOError:
                    break
                if addr[2] == socket.PACKET_OUTGOING:
                    continue
                if s is st:
                    v, frame = read_vlan(data, anc)
                    if v is None:
                        bad['untagged'] += 1
                    elif v != vid:
                        bad['other_vlan'] += 1
                    else:
                        bad['ok'] += 1
                        sp.send(frame)
                else:
                    st.send(tag(data, vid))
                    if data[:6] == b'\xff' * 6:
                        st.send(data)
                        st.send(tag(data, vid + 1))


if __name__ == '__main__':
    main()
