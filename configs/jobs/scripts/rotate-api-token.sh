#!/bin/sh
# Emergency remediation (Linux): replace a leaked API token and restart the service using it.
# NEW_API_TOKEN arrives as a protected parameter (an environment variable); it is never echoed.
set -eu
: "${NEW_API_TOKEN:?protected parameter NEW_API_TOKEN is missing}"
token_file="${TOKEN_FILE:-/etc/storefront/api.env}"
service="${SERVICE:-nginx}"

umask 077
mkdir -p "$(dirname "$token_file")"
tmp=$(mktemp "$token_file.XXXXXX")
printf 'API_TOKEN=%s\n' "$NEW_API_TOKEN" >"$tmp"
mv -f "$tmp" "$token_file"   # atomic: the service never reads a half-written file
echo "$(hostname): token rotated in $token_file"

systemctl restart "$service"
if ! systemctl is-active --quiet "$service"; then
    echo "ERROR: $service did not come back after the restart" >&2
    exit 3
fi
echo "$(hostname): $service restarted and active"
