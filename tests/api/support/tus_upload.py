"""Uploads a file to Kiln's /api/uploads with tuspy, a real tus client, in
chunks of a given size with a SHA-1 checksum each, and prints the upload's URL.

Usage: tus_upload.py ENDPOINT TOKEN PATH CHUNK_BYTES [KEY=VALUE metadata...]
"""

import sys

from tusclient import client


def main():
    endpoint, token, path, chunk = sys.argv[1:5]
    metadata = dict(arg.split("=", 1) for arg in sys.argv[5:])
    tus = client.TusClient(endpoint, headers={"Authorization": f"Bearer {token}"})
    uploader = tus.uploader(file_path=path, chunk_size=int(chunk), metadata=metadata,
                            upload_checksum=True)
    uploader.upload()
    print(uploader.url)


if __name__ == "__main__":
    main()
