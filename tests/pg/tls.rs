//! Certificates for the test servers, made with openssl (Debian's
//! `openssl`) for the names palgen's Certificate object carries, and laid
//! out as the pods mount the TLS Secret: `tls.crt`, `tls.key` and `ca.crt`
//! in one directory, the key with the mode of the generated volume.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Sandbox, debian_program, run_ok};

/// What the generated tree says the server's TLS Secret holds and how it
/// is mounted.
#[derive(Debug, Clone)]
pub struct ServerCertificate {
    /// `spec.dnsNames` of the Certificate.
    pub dns_names: Vec<String>,
    /// `defaultMode` of the database pod's `tls` volume.
    pub key_mode: u32,
}

/// A certificate authority made with openssl in a directory of its own.
pub struct CertificateAuthority {
    cert: PathBuf,
    key: PathBuf,
    dir: tempfile::TempDir,
}

fn openssl() -> Command {
    Command::new(debian_program("openssl", "openssl"))
}

/// An ECDSA P-256 key, as the generated Certificate asks cert-manager for.
const KEY_ARGS: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

impl CertificateAuthority {
    /// A self-signed CA certificate with the common name `name`.
    pub fn new(name: &str) -> CertificateAuthority {
        let dir = tempfile::tempdir().expect("temporary directory");
        let cert = dir.path().join("ca.crt");
        let key = dir.path().join("ca.key");
        run_ok(
            "openssl req -x509 (CA)",
            openssl()
                .args(["req", "-x509", "-nodes", "-days", "2"])
                .args(KEY_ARGS)
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&cert)
                .args(["-subj", &format!("/CN={name}")])
                .args(["-addext", "basicConstraints=critical,CA:TRUE"])
                .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]),
        );
        CertificateAuthority { cert, key, dir }
    }

    /// The CA certificate, PEM.
    pub fn pem(&self) -> String {
        read(&self.cert)
    }

    /// A server certificate for `dns_names` signed by this CA: (certificate
    /// PEM, private key PEM).
    pub fn issue(&self, dns_names: &[String]) -> (String, String) {
        assert!(!dns_names.is_empty(), "a server certificate needs names");
        let dir = self.dir.path();
        let (key, request, cert, extensions) = (
            dir.join("server.key"),
            dir.join("server.csr"),
            dir.join("server.crt"),
            dir.join("server.ext"),
        );
        run_ok(
            "openssl req (server key and request)",
            openssl()
                .args(["req", "-new", "-nodes"])
                .args(KEY_ARGS)
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&request)
                .args(["-subj", &format!("/CN={}", dns_names[0])]),
        );
        let san: Vec<String> = dns_names.iter().map(|name| format!("DNS:{name}")).collect();
        fs::write(
            &extensions,
            format!(
                "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
                 extendedKeyUsage=serverAuth\nsubjectAltName={}\n",
                san.join(",")
            ),
        )
        .expect("write the extensions file");
        run_ok(
            "openssl x509 -req (sign the server certificate)",
            openssl()
                .args(["x509", "-req", "-days", "2", "-set_serial", "1"])
                .arg("-in")
                .arg(&request)
                .arg("-CA")
                .arg(&self.cert)
                .arg("-CAkey")
                .arg(&self.key)
                .arg("-extfile")
                .arg(&extensions)
                .arg("-out")
                .arg(&cert),
        );
        (read(&cert), read(&key))
    }
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The TLS Secret's files in a sandbox, as the database pod mounts them.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The CA clients verify the server with.
    pub ca: PathBuf,
}

/// A fresh CA and a server certificate it signed for the generated names,
/// written into `<sandbox>/<dir>/` as the Secret is mounted.
pub fn write_tls(sandbox: &Sandbox, dir: &str, certificate: &ServerCertificate) -> TlsFiles {
    let authority = CertificateAuthority::new("palgen test CA");
    write_tls_signed_by(sandbox, dir, certificate, &authority)
}

/// As [`write_tls`], with a given CA.
pub fn write_tls_signed_by(
    sandbox: &Sandbox,
    dir: &str,
    certificate: &ServerCertificate,
    authority: &CertificateAuthority,
) -> TlsFiles {
    let (cert_pem, key_pem) = authority.issue(&certificate.dns_names);
    sandbox.dir(dir);
    TlsFiles {
        cert: sandbox.write_as_secret(&format!("{dir}/tls.crt"), &cert_pem, certificate.key_mode),
        key: sandbox.write_as_secret(&format!("{dir}/tls.key"), &key_pem, certificate.key_mode),
        ca: sandbox.write_as_secret(
            &format!("{dir}/ca.crt"),
            &authority.pem(),
            certificate.key_mode,
        ),
    }
}
