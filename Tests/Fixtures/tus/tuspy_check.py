"""An independent tus client against a live Reel server: tuspy (PyPI) for chunked uploads with checksums,
interruption and resumption, requests for what tuspy does not do (defer-length, termination). Exits non-zero
with the failed check; prints a JSON summary on success.

usage: tuspy_check.py BASE_URL TOKEN VIDEO
"""
import email.utils
import json
import os
import sys
from datetime import datetime, timezone

import requests
from tusclient import client

base, token, video = sys.argv[1:4]
auth = {"Authorization": f"Bearer {token}"}
tus = {**auth, "Tus-Resumable": "1.0.0"}
endpoint = f"{base}/api/uploads"
size = os.path.getsize(video)


def check(condition, what):
    if not condition:
        sys.exit(f"FAILED: {what}")


# Chunked, checksummed (tuspy sends sha1 per chunk), interrupted half-way.
tus_client = client.TusClient(endpoint, headers=auth)
chunk = 64 * 1024
first = tus_client.uploader(
    video, chunk_size=chunk, metadata={"filename": "tuspy.mp4", "title": "From tuspy"}, upload_checksum=True
)
first.upload(stop_at=size // 2)
url = first.url
head = requests.head(url, headers=tus)
check(head.status_code == 200, f"HEAD after the interruption: {head.status_code}")
held = int(head.headers["Upload-Offset"])
check(size // 2 <= held < size, f"the server holds {held} of {size} bytes after stopping at {size // 2}")
expires = email.utils.parsedate_to_datetime(head.headers["Upload-Expires"])
check(expires > datetime.now(timezone.utc), f"Upload-Expires {expires} is in the past")

# A new client resumes from the server's offset.
second = tus_client.uploader(video, chunk_size=chunk, url=url, upload_checksum=True)
check(second.offset == held, f"the resuming client starts at {second.offset}, the server holds {held}")
second.upload()
shown = requests.get(url, headers=auth).json()
check(shown["state"] == "complete", f"upload state {shown['state']}: {shown.get('message')}")
check(shown["offset"] == size, f"offset {shown['offset']} of {size}")
check(shown.get("job", {}).get("uid"), "no job was created")
job = requests.get(f"{base}/api/jobs/{shown['job']['uid']}", headers=auth).json()
check(job["spec"]["title"] == "From tuspy", f"job title {job['spec'].get('title')}")

# creation-defer-length: the length comes with the last PATCH.
data = open(video, "rb").read()
created = requests.post(endpoint, headers={**tus, "Upload-Defer-Length": "1", "Upload-Metadata": "job ZmFsc2U="})
check(created.status_code == 201, f"deferred creation: {created.status_code} {created.text}")
deferred = created.headers["Location"]
patch = {**tus, "Content-Type": "application/offset+octet-stream"}
part = requests.patch(deferred, headers={**patch, "Upload-Offset": "0"}, data=data[:1000])
check(part.status_code == 204, f"deferred first PATCH: {part.status_code} {part.text}")
check(requests.head(deferred, headers=tus).headers.get("Upload-Defer-Length") == "1", "Upload-Defer-Length lost")
last = requests.patch(
    deferred, headers={**patch, "Upload-Offset": "1000", "Upload-Length": str(size)}, data=data[1000:]
)
check(last.status_code == 204, f"deferred last PATCH: {last.status_code} {last.text}")
check(requests.get(deferred, headers=auth).json()["state"] == "complete", "the deferred upload is not complete")

# termination
doomed = requests.post(endpoint, headers={**tus, "Upload-Length": str(size), "Upload-Metadata": "job ZmFsc2U="})
gone = doomed.headers["Location"]
requests.patch(gone, headers={**patch, "Upload-Offset": "0"}, data=data[:5000])
deleted = requests.delete(gone, headers=tus)
check(deleted.status_code == 204, f"DELETE: {deleted.status_code}")
check(requests.head(gone, headers=tus).status_code == 404, "a terminated upload still answers HEAD")

print(json.dumps({"job": shown["job"]["uid"], "resumedAt": held, "size": size}))
