"""A downloader process for the crash tests: ``python -m tests.core.crash_worker SPEC.json``.

With ``submit`` it queues the downloads the spec lists (and prints their ids and priorities);
without, it only reopens the journal. Either way it waits for the queue, then prints the jobs.
The test kills it with SIGKILL in the middle.
"""

from __future__ import annotations

import json
import sys

from fetchq import DownloadQueueService


def main(spec_path: str) -> int:
    with open(spec_path, encoding="utf-8") as handle:
        spec = json.load(handle)
    queue = DownloadQueueService(
        max_parallel_dl=spec["parallel"],
        journal=spec["journal"],
        tokens=[(spec["token_pattern"], spec["token"])],
    )
    if spec["submit"]:
        for item in spec["downloads"]:
            job = queue.download(
                item["url"],
                item["dest"],
                priority=item["priority"],
                max_connections=item["connections"],
            )
            print(json.dumps({"submitted": job.id, "priority": job.priority}), flush=True)
    print(json.dumps({"restored": [job.id for job in queue.list_jobs()]}), flush=True)
    queue.join()
    for job in queue.list_jobs():
        print(
            json.dumps(
                {
                    "id": job.id,
                    "priority": job.priority,
                    "status": job.status.value,
                    "path": str(job.download_path),
                    "error": job.error_type,
                }
            ),
            flush=True,
        )
    queue.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
