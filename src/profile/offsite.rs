//! `backup.offsite`: resolving its keys and refusing values the object
//! store, IAM or Kubernetes would refuse later, each error naming the key,
//! the value and the accepted form.

use super::blame::Blame;
use super::error::SettingsError;
use super::resolve::Resolver;
use crate::model::offsite::{Offsite, Provider};
use crate::model::settings::{Settings, is_dns_subdomain};

pub(super) fn resolve(r: &mut Resolver<'_>) -> Result<Offsite, SettingsError> {
    let provider_text: String = r.take("backup.offsite.provider", |l| {
        l.backup.offsite.provider.as_ref()
    })?;
    let provider = provider_text.parse::<Provider>().map_err(|()| {
        r.blame().invalid(
            "backup.offsite.provider",
            format!(
                "{provider_text:?} is not an object store; write {}",
                Provider::ACCEPTED
            ),
        )
    })?;
    Ok(Offsite {
        provider,
        bucket: r.take("backup.offsite.bucket", |l| {
            l.backup.offsite.bucket.as_ref()
        })?,
        prefix: r.take("backup.offsite.prefix", |l| {
            l.backup.offsite.prefix.as_ref()
        })?,
        region: r.take("backup.offsite.region", |l| {
            l.backup.offsite.region.as_ref()
        })?,
        endpoint: r.take("backup.offsite.endpoint", |l| {
            l.backup.offsite.endpoint.as_ref()
        })?,
        account: r.take("backup.offsite.account", |l| {
            l.backup.offsite.account.as_ref()
        })?,
        role_arn: r.take("backup.offsite.role_arn", |l| {
            l.backup.offsite.role_arn.as_ref()
        })?,
        gcp_service_account: r.take("backup.offsite.gcp_service_account", |l| {
            l.backup.offsite.gcp_service_account.as_ref()
        })?,
        azure_client_id: r.take("backup.offsite.azure_client_id", |l| {
            l.backup.offsite.azure_client_id.as_ref()
        })?,
        credentials_secret: r.take("backup.offsite.credentials_secret", |l| {
            l.backup.offsite.credentials_secret.as_ref()
        })?,
        image: r.take("backup.offsite.image", |l| l.backup.offsite.image.as_ref())?,
    })
}

/// Every key of an enabled off-site copy in the form its platform accepts;
/// keys of another provider unset.
pub(super) fn validate(s: &Settings, r: &Blame<'_>) -> Result<(), SettingsError> {
    let o = &s.backup.offsite;
    if !o.enabled() {
        return Ok(());
    }
    let refuse = |key: &'static str, value: &str, accepted: &str| {
        Err(r.invalid(key, format!("{value:?} is not {accepted}")))
    };
    let (bucket_ok, bucket_rule) = match o.provider {
        Provider::S3 => (is_s3_bucket(&o.bucket), S3_BUCKET_RULE),
        Provider::Gcs => (is_gcs_bucket(&o.bucket), GCS_BUCKET_RULE),
        _ => (is_azure_container(&o.bucket), AZURE_CONTAINER_RULE),
    };
    if !bucket_ok {
        return refuse("backup.offsite.bucket", &o.bucket, bucket_rule);
    }
    if !o.prefix.is_empty() && !is_prefix(&o.prefix) {
        return refuse("backup.offsite.prefix", &o.prefix, PREFIX_RULE);
    }
    let only_for = |key: &'static str, value: &str, provider: Provider| {
        if value.is_empty() || o.provider == provider {
            Ok(())
        } else {
            Err(r.invalid(
                key,
                format!(
                    "{value:?} is set, but it applies to provider {provider} only, and this profile's provider is {}",
                    o.provider
                ),
            ))
        }
    };
    only_for("backup.offsite.region", &o.region, Provider::S3)?;
    only_for("backup.offsite.endpoint", &o.endpoint, Provider::S3)?;
    only_for("backup.offsite.role_arn", &o.role_arn, Provider::S3)?;
    only_for(
        "backup.offsite.credentials_secret",
        &o.credentials_secret,
        Provider::S3,
    )?;
    only_for(
        "backup.offsite.gcp_service_account",
        &o.gcp_service_account,
        Provider::Gcs,
    )?;
    only_for("backup.offsite.account", &o.account, Provider::AzureBlob)?;
    only_for(
        "backup.offsite.azure_client_id",
        &o.azure_client_id,
        Provider::AzureBlob,
    )?;
    if o.provider == Provider::S3 && !is_region(&o.region) {
        return refuse(
            "backup.offsite.region",
            &o.region,
            "a region such as \"eu-central-1\" (lower-case letters, digits and '-'; required for s3)",
        );
    }
    if !o.endpoint.is_empty() && !is_endpoint(&o.endpoint) {
        return refuse(
            "backup.offsite.endpoint",
            &o.endpoint,
            "an http:// or https:// URL such as \"http://minio.minio.svc:9000\" (empty for AWS S3)",
        );
    }
    if !o.role_arn.is_empty() && !is_role_arn(&o.role_arn) {
        return refuse(
            "backup.offsite.role_arn",
            &o.role_arn,
            "an IAM role ARN such as \"arn:aws:iam::123456789012:role/paless-postgres-backup\"",
        );
    }
    if !o.credentials_secret.is_empty() && !is_dns_subdomain(&o.credentials_secret) {
        return refuse(
            "backup.offsite.credentials_secret",
            &o.credentials_secret,
            "a Secret name (lower-case letters, digits, '-' and '.')",
        );
    }
    if !o.gcp_service_account.is_empty() && !is_gcp_service_account(&o.gcp_service_account) {
        return refuse(
            "backup.offsite.gcp_service_account",
            &o.gcp_service_account,
            "a Google service account such as \"paless-backup@my-project.iam.gserviceaccount.com\"",
        );
    }
    if !o.account.is_empty() && !is_azure_account(&o.account) {
        return refuse(
            "backup.offsite.account",
            &o.account,
            "an Azure storage account name (3 to 24 lower-case letters and digits)",
        );
    }
    if !o.azure_client_id.is_empty() && !is_guid(&o.azure_client_id) {
        return refuse(
            "backup.offsite.azure_client_id",
            &o.azure_client_id,
            "a client id such as \"0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d\"",
        );
    }
    Ok(())
}

const S3_BUCKET_RULE: &str = "an S3 bucket name (3 to 63 lower-case letters, digits, '.' and '-', starting and ending with a letter or digit, not an IP address)";
const GCS_BUCKET_RULE: &str = "a GCS bucket name (3 to 63 lower-case letters, digits, '-', '_' and '.', starting and ending with a letter or digit, not starting with \"goog\")";
const AZURE_CONTAINER_RULE: &str = "an Azure container name (3 to 63 lower-case letters, digits and single '-', starting with a letter or digit)";
const PREFIX_RULE: &str = "a prefix of '/'-separated parts of letters, digits, '-', '_' and '.' (no leading or trailing '/', no '.' or '..' part, at most 200 characters)";

fn starts_and_ends_alphanumeric(name: &str) -> bool {
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    alnum(name.chars().next()) && alnum(name.chars().last())
}

fn is_s3_bucket(name: &str) -> bool {
    let looks_like_ip =
        name.split('.').count() == 4 && name.split('.').all(|part| part.parse::<u8>().is_ok());
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && starts_and_ends_alphanumeric(name)
        && !name.contains("..")
        && !looks_like_ip
}

fn is_gcs_bucket(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_')
        })
        && starts_and_ends_alphanumeric(name)
        && !name.starts_with("goog")
        && !name.contains("..")
}

fn is_azure_container(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && starts_and_ends_alphanumeric(name)
        && !name.contains("--")
}

fn is_prefix(prefix: &str) -> bool {
    prefix.len() <= 200
        && prefix.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
}

fn is_region(region: &str) -> bool {
    !region.is_empty()
        && region.len() <= 32
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !region.starts_with('-')
        && !region.ends_with('-')
}

fn is_endpoint(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return false;
    };
    let host = rest.split(['/', ':']).next().unwrap_or_default();
    !host.is_empty()
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

/// `arn:<partition>:iam::<12-digit account>:role/<optional path/>name`.
fn is_role_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts[..] else {
        return false;
    };
    let Some(role) = resource.strip_prefix("role/") else {
        return false;
    };
    let name = role.rsplit('/').next().unwrap_or_default();
    prefix == "arn"
        && matches!(partition, "aws" | "aws-cn" | "aws-us-gov")
        && service == "iam"
        && region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && (1..=64).contains(&name.len())
        && role.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'+' | b'=' | b',' | b'.' | b'@' | b'_' | b'-' | b'/')
        })
}

/// `<name>@<project>.iam.gserviceaccount.com`, both 6 to 30 characters of
/// lower-case letters, digits and '-', starting with a letter.
fn is_gcp_service_account(email: &str) -> bool {
    let id = |text: &str| {
        (6..=30).contains(&text.len())
            && text.starts_with(|c: char| c.is_ascii_lowercase())
            && !text.ends_with('-')
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    match email.split_once('@') {
        Some((name, domain)) => domain
            .strip_suffix(".iam.gserviceaccount.com")
            .is_some_and(|project| id(name) && id(project)),
        None => false,
    }
}

fn is_azure_account(name: &str) -> bool {
    (3..=24).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_each_platform_rules() {
        assert!(is_s3_bucket("paless-postgres-backups"));
        assert!(is_s3_bucket("my.bucket-1"));
        for bad in [
            "ab",
            "Upper",
            "-start",
            "end-",
            "a..b",
            "192.168.1.2",
            "under_score",
        ] {
            assert!(!is_s3_bucket(bad), "{bad}");
        }
        assert!(is_gcs_bucket("paless_backups-1"));
        assert!(!is_gcs_bucket("goog-backups"));
        assert!(is_azure_container("paless-postgres-backups"));
        assert!(!is_azure_container("a--b"));
        assert!(!is_azure_container("a.b"));
        assert!(is_prefix("prod/eu-1"));
        for bad in ["/lead", "trail/", "a//b", "../up", "sp ace"] {
            assert!(!is_prefix(bad), "{bad}");
        }
    }

    #[test]
    fn identities_have_their_platform_shape() {
        assert!(is_role_arn(
            "arn:aws:iam::123456789012:role/paless-postgres-backup"
        ));
        assert!(is_role_arn("arn:aws-cn:iam::123456789012:role/team/backup"));
        for bad in [
            "arn:aws:iam::12345:role/x",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::123456789012:user/x",
            "arn:aws:iam:eu-west-1:123456789012:role/x",
            "role/x",
        ] {
            assert!(!is_role_arn(bad), "{bad}");
        }
        assert!(is_gcp_service_account(
            "paless-backup@my-project.iam.gserviceaccount.com"
        ));
        assert!(!is_gcp_service_account(
            "paless-backup@my-project.example.com"
        ));
        assert!(!is_gcp_service_account(
            "pb@my-project.iam.gserviceaccount.com"
        ));
        assert!(is_guid("0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"));
        assert!(!is_guid("0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d"));
        assert!(is_azure_account("palessbackups"));
        assert!(!is_azure_account("Paless-Backups"));
        assert!(is_endpoint("http://minio.minio.svc:9000"));
        assert!(is_endpoint("https://s3.example.com/path"));
        assert!(!is_endpoint("minio:9000"));
        assert!(!is_endpoint("http://"));
    }
}
