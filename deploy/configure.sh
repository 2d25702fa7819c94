#!/usr/bin/env bash
# Usage: deploy/configure.sh OVERLAY_DIR [--ip IP]
#   e.g. deploy/configure.sh deploy/kind      (uses kubectl's current context)
# Prepares an overlay for `kubectl apply -k OVERLAY_DIR`:
#  - finds the control-plane node's InternalIP (or takes --ip), where the API server listens and
#    where the Sluice control plane will listen (hostNetwork, port 7443);
#  - refuses to go on while kube-proxy still runs (two proxies would fight over Services);
#  - writes OVERLAY_DIR/cluster.env (api-server-host, control-plane-address) and, unless the
#    existing ones already name that IP, the mTLS certificates in OVERLAY_DIR/certs/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
die() { echo "configure.sh: $*" >&2; exit 1; }

overlay=${1:-}
[ -n "$overlay" ] && [ -f "$overlay/kustomization.yaml" ] || die "usage: configure.sh OVERLAY_DIR [--ip IP] (OVERLAY_DIR: deploy/kind or deploy/minikube)"
shift
ip=
while [ $# -gt 0 ]; do
  case $1 in
    --ip) ip=${2:?--ip needs an address}; shift 2 ;;
    *) die "unknown argument $1" ;;
  esac
done

if [ -z "$ip" ]; then
  command -v kubectl >/dev/null || die "kubectl not found (or pass --ip IP)"
  ctx=$(kubectl config current-context) || die "no current kubectl context: create the cluster first"
  ips=$(kubectl get nodes -l node-role.kubernetes.io/control-plane \
    -o jsonpath='{range .items[*]}{.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}') \
    || die "cannot list nodes in context $ctx"
  ips=$(printf '%s\n' "$ips" | sed '/^$/d')
  n=$(printf '%s\n' "$ips" | sed '/^$/d' | wc -l)
  [ "$n" -eq 1 ] || die "expected one control-plane node in context $ctx, found $n: ${ips//$'\n'/ }"
  ip=$ips
  if [ -n "$(kubectl -n kube-system get daemonset kube-proxy -o name --ignore-not-found)" ]; then
    die "kube-proxy is still running in context $ctx: create the cluster without it (docs: 'kube-proxy still running')"
  fi
  echo "configure.sh: context $ctx, control-plane node $ip"
fi

certs="$overlay/certs"
if [ -f "$certs/controlplane.crt" ] && [ -f "$certs/agent.crt" ] \
   && openssl x509 -in "$certs/controlplane.crt" -noout -ext subjectAltName 2>/dev/null | grep -qF "IP Address:$ip"; then
  echo "configure.sh: keeping $certs (its server certificate already names $ip)"
else
  bash "$here/gen-certs.sh" "$certs" "$ip"
fi

cat > "$overlay/cluster.env" <<EOT
api-server-host=$ip
control-plane-address=$ip:7443
EOT
echo "configure.sh: wrote $overlay/cluster.env; next: kubectl apply -k $overlay"
