FROM stackup.local/busybox:latest
COPY . /ctx/
