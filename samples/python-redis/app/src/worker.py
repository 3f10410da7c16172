"""The worker: takes the jobs the web app queues in Redis and records each as done."""

import os

import redis

store = redis.Redis(host=os.environ.get("REDIS_HOST", "localhost"), port=6379)
print("worker: waiting for jobs", flush=True)
while True:
    _, job = store.blpop("jobs")
    store.incr("done")
    print(f"worker: done {job.decode()}", flush=True)
