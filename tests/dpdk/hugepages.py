"""hugepages.py — the dataset in EAL hugepages on the DPDK data plane, run by
run_dpdk_tests.sh (hugepage section) inside the client namespace with
/usr/bin/python3 against a server whose EAL runs on real 2 MB pages:
  load N    pipelines N SETs of known values and checks that INFO hugepages
            shows hugepage-backed bytes > 0 that grew about as much as
            used_memory, and that used_memory_rss counts the hugepages;
  verify N  reads the N keys back (MGET) and compares every value;
  oom       writes 1 MB values until the hugepage pool runs out: the
            write past it is answered -OOM, the server keeps serving,
            reads and deletes work, and writes work again once memory is
            freed.
Usage: hugepages.py HOST PORT load N | verify N | oom
Prints its figures and exits 1 on any failed check.
"""
import sys
import time

import redis


def value(i):
    return (b'v%08d-' % i) * 7


def info(r, section):
    return r.info(section)


def figures(r):
    m = info(r, 'memory')
    h = info(r, 'hugepages')
    return m, h


def load(host, port, n):
    r = redis.Redis(host=host, port=port, socket_timeout=60)
    time.sleep(0.3)
    m0, h0 = figures(r)
    ok = True
    if h0.get('hugepages_source') != 'dpdk' or h0['shard0']['hugetlb'] != 1:
        print('not a DPDK arena on hugepages: %r' % h0)
        ok = False
    p = r.pipeline(transaction=False)
    for i in range(n):
        p.set('hp:%d' % i, value(i))
        if i % 2000 == 1999:
            p.execute()
    p.execute()
    time.sleep(0.3)  # allocator statistics are refreshed every 100 ms
    m1, h1 = figures(r)
    d_used = m1['used_memory'] - m0['used_memory']
    d_huge = h1['hugepages_active_bytes'] - h0['hugepages_active_bytes']
    print('load: %d keys; used_memory +%d, hugepage-backed live bytes %d -> %d (+%d), '
          'taken from the pool %d -> %d of %d, hugetlb_rss %d, used_memory_rss %d'
          % (n, d_used, h0['hugepages_active_bytes'], h1['hugepages_active_bytes'], d_huge,
             h0['hugepages_pool_used_bytes'], h1['hugepages_pool_used_bytes'],
             h1['hugepages_pool_bytes'], h1['hugetlb_rss_bytes'], m1['used_memory_rss']))
    if h1['hugepages_active_bytes'] <= 0 or h1['hugepages_pool_used_bytes'] <= 0:
        print('no hugepage-backed bytes')
        ok = False
    # Active bytes are whole pages of slabs and extents: allow a few MB
    # and 25% either way.
    if not (d_huge >= d_used * 0.75 - (4 << 20) and d_huge <= d_used * 1.25 + (8 << 20)):
        print('hugepage growth %d does not follow the dataset growth %d' % (d_huge, d_used))
        ok = False
    if h1['hugetlb_rss_bytes'] <= 0 or m1['used_memory_rss'] < h1['hugetlb_rss_bytes']:
        print('used_memory_rss does not count the hugepages')
        ok = False
    if h1['hugepages_fallback_bytes'] != 0:
        print('fallback to normal pages: %d' % h1['hugepages_fallback_bytes'])
        ok = False
    return ok


def verify(host, port, n):
    r = redis.Redis(host=host, port=port, socket_timeout=60)
    bad = 0
    for s in range(0, n, 1000):
        keys = ['hp:%d' % i for i in range(s, min(n, s + 1000))]
        got = r.mget(keys)
        for i, v in zip(range(s, s + len(keys)), got):
            if v != value(i):
                bad += 1
    print('verify: %d keys, %d wrong' % (n, bad))
    return bad == 0 and r.dbsize() >= n


def oom(host, port):
    r = redis.Redis(host=host, port=port, socket_timeout=60)
    big = b'x' * (1 << 20)
    written, err = 0, None
    t0 = time.time()
    for i in range(4096):
        try:
            r.set('fill:%d' % i, big)
            written += 1
        except redis.exceptions.ResponseError as e:
            err = str(e)
            break
    h = info(r, 'hugepages')
    print('oom: %d x 1 MB written in %.1fs, then %r; pool %d used %d fallback %d full=%d'
          % (written, time.time() - t0, err, h['hugepages_pool_bytes'],
             h['hugepages_pool_used_bytes'], h['hugepages_fallback_bytes'],
             h['shard0']['full']))
    ok = True
    if not err or not err.startswith('OOM command not allowed'):
        print('no OOM error past the pool')
        ok = False
    if h['shard0']['full'] != 1:
        print('INFO does not show the pool full')
        ok = False
    if not r.ping():
        ok = False
    # Reads and deletes still run; a small write is refused too.
    if r.get('fill:0') != big:
        print('fill:0 lost')
        ok = False
    try:
        r.set('small', 'x')
        print('a write was accepted while the pool is full')
        ok = False
    except redis.exceptions.ResponseError as e:
        if 'OOM' not in str(e):
            ok = False
    r.delete(*['fill:%d' % i for i in range(written)])
    try:
        r.set('after', 'works')
        if r.get('after') != b'works':
            ok = False
    except redis.exceptions.ResponseError as e:
        print('still refused after freeing: %s' % e)
        ok = False
    h = info(r, 'hugepages')
    print('after freeing: full=%d' % h['shard0']['full'])
    return ok


def main():
    host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    if mode == 'load':
        ok = load(host, port, int(sys.argv[4]))
    elif mode == 'verify':
        ok = verify(host, port, int(sys.argv[4]))
    elif mode == 'oom':
        ok = oom(host, port)
    else:
        print(__doc__)
        ok = False
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
