//! The database's server certificate, from cert-manager: a `Certificate`
//! that writes the TLS Secret every pod mounts, and, for the `private-ca`
//! source, the issuers of a CA private to the namespace (cert-manager's
//! documented bootstrap: a self-signed issuer signs the CA certificate, a CA
//! issuer signs with it).
//!
//! k8s-openapi has no cert-manager types: these are the fields palgen
//! writes, of cert-manager's `cert-manager.io/v1` API.

use super::custom_resource::CustomResource;
use serde::Serialize;

use super::labels::DATABASE;
use crate::model::settings::{CertificateSource, IssuerRef, Settings};

const API_VERSION: &str = "cert-manager.io/v1";
const GROUP: &str = "cert-manager.io";
pub const SELF_SIGNED_ISSUER: &str = "postgres-selfsigned";
/// The private CA: its Certificate, Secret and Issuer share the name.
pub const PRIVATE_CA: &str = "postgres-ca";
const PRIVATE_CA_COMMON_NAME: &str = "Paless PostgreSQL CA";

/// The server certificate is renewed a month before it expires; the CA
/// lives ten years.
const SERVER_DURATION: &str = "2160h";
const SERVER_RENEW_BEFORE: &str = "720h";
const CA_DURATION: &str = "87600h";

pub type Certificate = CustomResource<CertificateSpec>;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateSpec {
    pub secret_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_names: Vec<String>,
    #[serde(rename = "isCA", skip_serializing_if = "std::ops::Not::not")]
    pub is_ca: bool,
    pub duration: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renew_before: Option<&'static str>,
    pub private_key: PrivateKey,
    pub usages: Vec<&'static str>,
    pub issuer_ref: IssuerReference,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrivateKey {
    pub algorithm: &'static str,
    pub size: u32,
    /// A new key on every renewal, so a leaked key expires with its certificate.
    pub rotation_policy: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct IssuerReference {
    pub name: String,
    pub kind: String,
    pub group: String,
}

pub type Issuer = CustomResource<IssuerSpec>;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum IssuerSpec {
    SelfSigned {},
    Ca {
        #[serde(rename = "secretName")]
        secret_name: String,
    },
}

/// ECDSA P-256: as strong as RSA 3072 for a fraction of the handshake cost,
/// and accepted by every client palgen configures.
fn private_key() -> PrivateKey {
    PrivateKey {
        algorithm: "ECDSA",
        size: 256,
        rotation_policy: "Always",
    }
}

fn local_issuer(name: &str) -> IssuerReference {
    IssuerReference {
        name: name.to_owned(),
        kind: "Issuer".to_owned(),
        group: GROUP.to_owned(),
    }
}

/// The certificate of the database pods (and of PgBouncer, which serves the
/// same clients): every name clients connect by.
pub fn server(settings: &Settings, dns_names: Vec<String>) -> Certificate {
    let issuer_ref = match (&settings.tls.source, &settings.tls.issuer) {
        (
            CertificateSource::Issuer,
            IssuerRef {
                name: Some(name),
                kind,
                group,
            },
        ) => IssuerReference {
            name: name.clone(),
            kind: kind.clone(),
            group: group.clone(),
        },
        _ => local_issuer(PRIVATE_CA),
    };
    Certificate {
        api_version: API_VERSION,
        kind: "Certificate",
        metadata: DATABASE.metadata(&settings.tls.secret),
        spec: CertificateSpec {
            secret_name: settings.tls.secret.clone(),
            common_name: None,
            dns_names,
            is_ca: false,
            duration: SERVER_DURATION,
            renew_before: Some(SERVER_RENEW_BEFORE),
            private_key: private_key(),
            usages: vec!["digital signature", "server auth"],
            issuer_ref,
        },
    }
}

/// The private CA's certificate, signed by the self-signed issuer.
pub fn private_ca() -> Certificate {
    Certificate {
        api_version: API_VERSION,
        kind: "Certificate",
        metadata: DATABASE.metadata(PRIVATE_CA),
        spec: CertificateSpec {
            secret_name: PRIVATE_CA.to_owned(),
            common_name: Some(PRIVATE_CA_COMMON_NAME.to_owned()),
            dns_names: Vec::new(),
            is_ca: true,
            duration: CA_DURATION,
            renew_before: None,
            private_key: private_key(),
            usages: vec!["cert sign", "crl sign"],
            issuer_ref: local_issuer(SELF_SIGNED_ISSUER),
        },
    }
}

pub fn self_signed_issuer() -> Issuer {
    Issuer {
        api_version: API_VERSION,
        kind: "Issuer",
        metadata: DATABASE.metadata(SELF_SIGNED_ISSUER),
        spec: IssuerSpec::SelfSigned {},
    }
}

pub fn private_ca_issuer() -> Issuer {
    Issuer {
        api_version: API_VERSION,
        kind: "Issuer",
        metadata: DATABASE.metadata(PRIVATE_CA),
        spec: IssuerSpec::Ca {
            secret_name: PRIVATE_CA.to_owned(),
        },
    }
}
