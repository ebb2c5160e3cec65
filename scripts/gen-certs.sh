#!/bin/sh
# Makes a throwaway CA and the certificates a TLS run on the stand-in needs:
#   ca.pem                            the CA (give it to both sides as --ca)
#   server.pem, server-key.pem        the stand-in's (names 127.0.0.1 and localhost)
#   client.pem, client-key.pem        the client's, for mutual TLS
# Usage: scripts/gen-certs.sh DIR   (needs openssl; for tests, never production)
set -eu
dir=${1:?usage: $0 DIR}
mkdir -p "$dir"
cd "$dir"
days=30
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout ca-key.pem -out ca.pem -days "$days" -subj "/CN=tikv-bench test CA" 2>/dev/null
leaf() { # NAME SUBJECT-ALT-NAMES
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$1-key.pem" -out "$1.csr" -subj "/CN=tikv-bench $1" 2>/dev/null
    printf 'subjectAltName=%s\n' "$2" > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
        -days "$days" -extfile "$1.ext" -out "$1.pem" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
}
leaf server "IP:127.0.0.1,DNS:localhost"
leaf client "DNS:tikv-bench-client"
rm -f ca.srl
echo "wrote $dir/{ca,server,server-key,client,client-key}.pem"
