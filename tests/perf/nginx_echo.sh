# Sourced by the perf scripts. nginx_echo_conf DIR PORT LOCATIONS prints an nginx config (Debian
# nginx with libnginx-mod-http-echo): one worker on the caller's core, one h2c server on
# 127.0.0.1:PORT with the given location blocks, temp files and logs under DIR.
nginx_echo_module=/usr/lib/nginx/modules/ngx_http_echo_module.so

nginx_echo_conf() {
  local dir=$1 port=$2 locations=$3
  cat <<CONF
load_module $nginx_echo_module;
worker_processes 1;
daemon off;
master_process off;
error_log $dir/error.log;
pid $dir/nginx.pid;
worker_rlimit_nofile 65536;
events { worker_connections 30000; }
http {
  access_log off;
  keepalive_requests 10000000;
  http2_max_concurrent_streams 1000;
  client_body_temp_path $dir/body;
  server {
    listen 127.0.0.1:$port http2;
$locations
  }
}
CONF
}
