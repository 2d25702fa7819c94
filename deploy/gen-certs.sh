#!/usr/bin/env bash
# Usage: deploy/gen-certs.sh OUT_DIR IP [IP...]
# mTLS material for Sluice, with openssl: a CA, the control plane's server certificate (its
# subjectAltName holds every IP the agents may dial: the control-plane node's address) and one
# client certificate shared by the agents. Writes OUT_DIR/{ca,controlplane,agent}.{crt,key}; the
# CA's key stays in OUT_DIR/ca.key (keep it out of the cluster and out of git).
set -euo pipefail
OUT=${1:?usage: gen-certs.sh OUT_DIR IP [IP...]}
shift
[ $# -ge 1 ] || { echo "gen-certs.sh: give at least one IP address the agents dial" >&2; exit 2; }
san="DNS:sluice-controlplane,DNS:sluice-controlplane.kube-system.svc"
for ip in "$@"; do
  [[ $ip =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ || $ip == *:* ]] || { echo "gen-certs.sh: '$ip' is not an IP address" >&2; exit 2; }
  san="$san,IP:$ip"
done
mkdir -p "$OUT"
umask 077
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

key "$OUT/ca.key"
openssl req -x509 -new -key "$OUT/ca.key" -sha256 -days 3650 -subj "/CN=sluice-ca" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out "$OUT/ca.crt"

sign() { # NAME CN EXTENSIONS
  key "$OUT/$1.key"
  openssl req -new -key "$OUT/$1.key" -subj "/CN=$2" -out "$OUT/$1.csr"
  printf '%s\n' "$3" > "$OUT/$1.ext"
  openssl x509 -req -in "$OUT/$1.csr" -CA "$OUT/ca.crt" -CAkey "$OUT/ca.key" -CAcreateserial \
    -sha256 -days 825 -extfile "$OUT/$1.ext" -out "$OUT/$1.crt" 2>/dev/null
  rm -f "$OUT/$1.csr" "$OUT/$1.ext"
}
sign controlplane sluice-controlplane "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=$san"
sign agent sluice-agent "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
rm -f "$OUT/ca.srl"
chmod 0644 "$OUT"/*.crt
openssl verify -CAfile "$OUT/ca.crt" "$OUT/controlplane.crt" "$OUT/agent.crt" >/dev/null
echo "gen-certs.sh: wrote $OUT/{ca,controlplane,agent}.{crt,key}; control plane SANs: $san"
