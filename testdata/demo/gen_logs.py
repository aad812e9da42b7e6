# Generates the bundled demo logs (deterministic seed): three services, 36 minutes of event time,
# and a database connection-pool incident in payment that cascades into checkout at 10:32.
# Run from testdata/demo: python3 gen_logs.py
import random, datetime
random.seed(7)
start = datetime.datetime(2026, 11, 25, 10, 0, 0, tzinfo=datetime.timezone.utc)
def ts(sec): return (start + datetime.timedelta(seconds=sec)).strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3] + 'Z'
def rid(): return '%016x' % random.getrandbits(64)
normal = {
 'checkout': [
  ('INFO', lambda: f'received order {random.randint(100000,999999)} from user {random.randint(1000,9999)} with {random.randint(1,6)} items'),
  ('INFO', lambda: f'calling payment service for order {random.randint(100000,999999)} amount {random.randint(5,500)}.{random.randint(0,99):02d} USD'),
  ('INFO', lambda: f'order {random.randint(100000,999999)} completed in {random.randint(40,180)}ms'),
  ('DEBUG', lambda: f'cache hit for cart {rid()}'),
 ],
 'payment': [
  ('INFO', lambda: f'charging card ending {random.randint(1000,9999)} for {random.randint(5,500)}.{random.randint(0,99):02d} USD'),
  ('INFO', lambda: f'acquired db connection from pool ({random.randint(3,12)}/50 in use)'),
  ('INFO', lambda: f'payment {rid()} authorized in {random.randint(20,90)}ms'),
 ],
 'inventory': [
  ('INFO', lambda: f'reserved {random.randint(1,5)} units of sku-{random.randint(1000,9999)} for order {random.randint(100000,999999)}'),
  ('INFO', lambda: f'stock level for sku-{random.randint(1000,9999)} is {random.randint(0,500)}'),
 ],
}
incident = {
 'payment': [
  ('ERROR', lambda: f'db connection pool exhausted (50/50 in use), waited {random.randint(4800,5200)}ms for a connection'),
  ('ERROR', lambda: f'payment {rid()} failed: timeout acquiring connection after 5000ms'),
 ],
 'checkout': [
  ('ERROR', lambda: f'payment service call for order {random.randint(100000,999999)} timed out after 5000ms'),
  ('WARN', lambda: f'retrying payment for order {random.randint(100000,999999)} (attempt {random.randint(2,3)}/3)'),
 ],
}
INCIDENT_AT = 32*60
END = 36*60
for svc, tmpls in normal.items():
    lines = []
    t = random.random()
    while t < END:
        if svc in incident and INCIDENT_AT <= t < INCIDENT_AT + 60 and random.random() < 0.6:
            lvl, f = random.choice(incident[svc])
        else:
            lvl, f = random.choice(tmpls)
        lines.append(f'{ts(t)} {lvl} {svc} {f()}')
        t += random.expovariate(1.0)
    open(f'logs/{svc}.log','w').write('\n'.join(lines) + '\n')
    print(svc, len(lines))
