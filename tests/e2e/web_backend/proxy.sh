#!/bin/sh
# CGI: fetch the backend by its service name and pass its answer on.
printf 'Content-Type: text/plain\r\n\r\n'
wget -q -O - http://backend:9000/
