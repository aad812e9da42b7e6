# Generates the bundled demo traces (deterministic seed) as OTLP/JSON lines, one export request
# per line (the otlpjsonfile format): 8 minutes of a checkout flow, user -> frontend -> checkout
# (HTTP) -> payment (gRPC) -> payments-db (postgres), checkout -> inventory (HTTP), checkout ->
# orders topic (kafka) -> shipping. From 10:32 to 10:34 payment's connection pool is exhausted
# (the incident of the demo logs): its database calls and the calls to it fail and slow down.
# Each service exports every 10 s of event time, so the halves of a call arrive in different
# requests. Run from testdata/demo/traces: python3 gen_traces.py
import json, random, datetime
random.seed(11)
start = datetime.datetime(2026, 11, 25, 10, 28, 0, tzinfo=datetime.timezone.utc)
base = int(start.timestamp()) * 10**9
MS = 10**6
def hexid(n): return '%0*x' % (n * 2, random.getrandbits(n * 8))
batches = {}  # (chunk, service) -> spans
def add(svc, tid, parent, kind, name, t, dur, err=False, attrs=None):
    global trace_start
    sid = hexid(8)
    span = {'traceId': tid, 'spanId': sid, 'name': name, 'kind': kind,
            'startTimeUnixNano': str(t), 'endTimeUnixNano': str(t + dur),
            'attributes': [{'key': k, 'value': {'stringValue': v}} for k, v in (attrs or {}).items()],
            'status': {'code': 2} if err else {}}
    if parent: span['parentSpanId'] = parent
    batches.setdefault(((trace_start - base) // (10 * 10**9), svc), []).append(span)
    return sid
SERVER, CLIENT, PRODUCER, CONSUMER = 2, 3, 4, 5
for i in range(120):
    t = base + i * 4 * 10**9 + random.randint(0, 500) * MS
    incident = 240 <= i * 4 < 360
    fail = incident and random.random() < 0.6
    db = (5000 if fail else random.randint(3, 15)) * MS
    tid = hexid(16)
    trace_start = t
    root = add('frontend', tid, None, SERVER, 'GET /checkout', t, db + 150 * MS, fail, {'http.request.method': 'GET', 'url.path': '/checkout'})
    fc = add('frontend', tid, root, CLIENT, 'POST', t + MS, db + 140 * MS, fail, {'http.request.method': 'POST', 'server.address': 'checkout', 'url.full': 'http://checkout:8080/api/checkout'})
    cs = add('checkout', tid, fc, SERVER, 'POST /api/checkout', t + 2 * MS, db + 130 * MS, fail, {'http.request.method': 'POST', 'http.route': '/api/checkout'})
    ic = add('checkout', tid, cs, CLIENT, 'POST', t + 3 * MS, 20 * MS, False, {'http.request.method': 'POST', 'server.address': 'inventory', 'url.full': 'http://inventory:8080/reserve'})
    add('inventory', tid, ic, SERVER, 'POST /reserve', t + 4 * MS, 15 * MS, False, {'http.request.method': 'POST', 'http.route': '/reserve'})
    pc = add('checkout', tid, cs, CLIENT, 'payment.Payment/Charge', t + 25 * MS, db + 60 * MS, fail, {'rpc.system': 'grpc', 'rpc.service': 'payment.Payment', 'server.address': 'payment'})
    ps = add('payment', tid, pc, SERVER, 'payment.Payment/Charge', t + 26 * MS, db + 55 * MS, fail, {'rpc.system': 'grpc', 'rpc.service': 'payment.Payment'})
    add('payment', tid, ps, CLIENT, 'INSERT payments', t + 27 * MS, db, fail, {'db.system.name': 'postgresql', 'db.namespace': 'payments', 'server.address': 'payments-db'})
    if not fail:
        pr = add('checkout', tid, cs, PRODUCER, 'orders publish', t + db + 100 * MS, 3 * MS, False, {'messaging.system': 'kafka', 'messaging.destination.name': 'orders'})
        add('shipping', tid, pr, CONSUMER, 'orders process', t + db + 110 * MS, 30 * MS, False, {'messaging.system': 'kafka', 'messaging.destination.name': 'orders'})
with open('traces.jsonl', 'w') as f:
    for (chunk, svc), spans in sorted(batches.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        req = {'resourceSpans': [{'resource': {'attributes': [{'key': 'service.name', 'value': {'stringValue': svc}}]},
                                  'scopeSpans': [{'scope': {'name': 'demo'}, 'spans': spans}]}]}
        f.write(json.dumps(req, separators=(',', ':')) + '\n')
