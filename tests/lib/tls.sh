# tls.sh - a throwaway test CA and a server certificate for DNS:localhost
# (libgit2's mbedTLS refuses IP-only SANs). mk_tls DIR [NAME]
mk_tls() {
	local d=$1 name=${2:-localhost}
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/ca.key" \
		-out "$d/ca.pem" -days 2 -subj "/CN=plumb test CA $(basename "$d")" 2>/dev/null
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/server.key" \
		-out "$d/server.csr" -subj "/CN=$name" 2>/dev/null
	printf 'subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' \
		"$name" > "$d/ext"
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
		-out "$d/server.pem" -days 2 -extfile "$d/ext" 2>/dev/null
}
# mk_client_cert DIR CN [PURPOSE]: DIR/client-CN.{pem,key}, signed by DIR's CA,
# for TLS clients (extendedKeyUsage clientAuth unless PURPOSE says otherwise;
# PURPOSE "none" leaves extendedKeyUsage out).
mk_client_cert() {
	local d=$1 cn=$2 purpose=${3:-clientAuth}
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/client-$cn.key" \
		-out "$d/client-$cn.csr" -subj "/CN=$cn" 2>/dev/null
	printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n' > "$d/client-ext"
	[ "$purpose" = none ] || printf 'extendedKeyUsage=%s\n' "$purpose" >> "$d/client-ext"
	openssl x509 -req -in "$d/client-$cn.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
		-out "$d/client-$cn.pem" -days 2 -extfile "$d/client-ext" 2>/dev/null
}
# mk_crl DIR OUT [PEM...]: a CRL signed by DIR's CA revoking the given
# certificates (none: an empty CRL), written to OUT.
mk_crl() {
	local d=$1 out=$2 c; shift 2
	mkdir -p "$d/crl"
	: > "$d/crl/index.txt"
	[ -f "$d/crl/crlnumber" ] || echo 01 > "$d/crl/crlnumber"
	printf '[ca]\ndefault_ca=c\n[c]\ndatabase=%s/crl/index.txt\ncrlnumber=%s/crl/crlnumber\ndefault_md=sha256\ndefault_crl_days=2\n' \
		"$d" "$d" > "$d/crl/ca.cnf"
	for c in "$@"; do
		openssl ca -config "$d/crl/ca.cnf" -keyfile "$d/ca.key" -cert "$d/ca.pem" -revoke "$c" 2>/dev/null ||
			return 1
	done
	openssl ca -config "$d/crl/ca.cnf" -keyfile "$d/ca.key" -cert "$d/ca.pem" -gencrl -out "$out" 2>/dev/null
}
