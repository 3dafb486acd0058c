#!/usr/bin/env bash
# Runs a private Postfix instance on a loopback port for side-by-side accept
# benchmarks: its own config and queue under a temporary directory, SMTP on
# 127.0.0.1:PORT, local delivery to Maildir for the Unix user `pfbench`, DNS
# lookups off. The system's own Postfix (if any) is not touched.
#
# With MODE `hold`, every accepted message goes to Postfix's hold queue and
# stays there: Postfix acknowledges after its queue file is fsynced, as in
# the default mode, but never delivers. That matches a Ringmail run whose
# messages wait in its spool, for a queue-only accept comparison.
#
# Usage: bench/compare/postfix-accept.sh start PORT DIR [hold] | stop DIR
# Needs root and Debian's postfix package (installed when missing).
set -euo pipefail

action=${1:?usage: postfix-accept.sh start PORT DIR [hold] | stop DIR}

if [[ $action == stop ]]; then
  dir=${2:?missing DIR}
  postfix -c "$dir/etc" stop || true
  exit 0
fi

port=${2:?missing PORT}
dir=${3:?missing DIR}
mode=${4:-deliver}
if [[ $mode != deliver && $mode != hold ]]; then
  echo "postfix-accept.sh: MODE must be hold, or absent" >&2
  exit 2
fi

if ! command -v postfix >/dev/null; then
  echo "postfix main_mailer_type select No configuration" | debconf-set-selections
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postfix
fi
if ! id pfbench >/dev/null 2>&1; then
  useradd --system --home-dir "$dir/home" --shell /usr/sbin/nologin pfbench
fi

mkdir -p "$dir/etc" "$dir/spool" "$dir/data" "$dir/home"
chown postfix "$dir/data"
chown pfbench "$dir/home"
usermod --home "$dir/home" pfbench

cat > "$dir/etc/main.cf" <<CONF
compatibility_level = 3.6
queue_directory = $dir/spool
data_directory = $dir/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix-bench.localhost
mydomain = localhost
myorigin = localhost
mydestination = localhost
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
home_mailbox = Maildir/
biff = no
disable_dns_lookups = yes
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
maillog_file_prefixes = $dir
maillog_file = $dir/maillog
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
default_process_limit = 200
CONF
if [[ $mode == hold ]]; then
  # A static access map returns HOLD for every client.
  echo "smtpd_recipient_restrictions = check_client_access static:HOLD, permit_mynetworks, reject" >> "$dir/etc/main.cf"
fi
sed -e "s/^smtp      inet  n       -       y       -       -       smtpd/$port inet n - n - - smtpd/" \
  /usr/share/postfix/master.cf.dist > "$dir/etc/master.cf"
# Every service runs outside a chroot, which this private queue does not have.
sed -i -E 's/^([a-z]+ +[a-z]+ +[-ny] +[-ny] +)y /\1n /' "$dir/etc/master.cf"

postfix -c "$dir/etc" set-permissions >/dev/null 2>&1 || true
postfix -c "$dir/etc" check
postfix -c "$dir/etc" start
echo "postfix listening on 127.0.0.1:$port, maildir $dir/home/Maildir, log $dir/maillog"
