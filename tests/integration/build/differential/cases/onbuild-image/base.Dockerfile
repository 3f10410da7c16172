FROM stackup.local/busybox:latest
RUN echo base > /base
ONBUILD RUN echo triggered > /triggered
ONBUILD COPY trigger.txt /from-trigger
ONBUILD ENV TRIGGERED=yes
