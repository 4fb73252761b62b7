//! The object-store settings of the `cloudnative-pg` engine with the real
//! programs: Debian's barman-cli-cloud (the barman-cloud tools the Barman
//! Cloud plugin runs), PostgreSQL and moto's S3 API server on loopback.
//! WAL archiving, a base backup, a deleted row, and a restore to a point in
//! time before the delete that brings the row back, all with the bucket,
//! prefix, endpoint, compression and server name of the objects palgen
//! builds for the profile (read from `palgen build`, not repeated here).

mod common;
mod pg;

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use common::{palgen, stderr, stdout, tool};
use pg::{
    Daemon, Sandbox, Server, ServerSpec, conf_for_server, debian_program, free_port, hba_for_test,
    http_get, initdb, run_ok, server_major, wait_until, write_credentials,
};

/// What the Barman Cloud plugin passes to barman-cloud for a profile: the
/// destination, the endpoint and the compression of its ObjectStore, and
/// the server name (the plugin's default: the Cluster's name).
struct Archive {
    destination: String,
    server_name: String,
    wal_args: Vec<String>,
    backup_args: Vec<String>,
    restore_args: Vec<String>,
}

fn archive_of(objects: &[Value]) -> Archive {
    let store = objects
        .iter()
        .find(|o| o["kind"] == "ObjectStore")
        .expect("an ObjectStore");
    let cluster = objects
        .iter()
        .find(|o| o["kind"] == "Cluster")
        .expect("a Cluster");
    let plugin = &cluster["spec"]["plugins"][0];
    assert_eq!(plugin["isWALArchiver"], true);
    assert_eq!(
        plugin["parameters"]["barmanObjectName"], store["metadata"]["name"],
        "the Cluster archives to this ObjectStore"
    );
    let configuration = &store["spec"]["configuration"];
    let endpoint = vec![
        "--endpoint-url".to_owned(),
        configuration["endpointURL"].as_str().unwrap().to_owned(),
    ];
    let compression = |section: &str| {
        format!(
            "--{}",
            configuration[section]["compression"].as_str().unwrap()
        )
    };
    let mut wal_args = endpoint.clone();
    wal_args.push(compression("wal"));
    let mut backup_args = endpoint.clone();
    backup_args.push(compression("data"));
    backup_args.push("--jobs".to_owned());
    backup_args.push(configuration["data"]["jobs"].to_string());
    Archive {
        destination: configuration["destinationPath"]
            .as_str()
            .unwrap()
            .to_owned(),
        server_name: plugin["parameters"]["serverName"]
            .as_str()
            .or(cluster["metadata"]["name"].as_str())
            .unwrap()
            .to_owned(),
        wal_args,
        backup_args,
        restore_args: endpoint,
    }
}

/// `name = 'value'` lines, as CloudNativePG writes the Cluster's
/// parameters into the instance's configuration.
fn conf_from_parameters(parameters: &serde_json::Map<String, Value>) -> String {
    parameters
        .iter()
        .map(|(name, value)| {
            let value = value.as_str().expect("parameters are strings");
            format!("{name} = '{}'\n", value.replace('\'', "''"))
        })
        .collect()
}

fn shell_words(words: &[String]) -> String {
    words
        .iter()
        .map(|w| format!("'{}'", w.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn wal_archive_base_backup_and_point_in_time_restore_bring_a_deleted_row_back() {
    let sandbox = Sandbox::new();
    // The tools find credentials as on a pod with a workload identity:
    // through the SDK's default chain (here its files under HOME).
    sandbox.dir(".aws");
    sandbox.write(
        ".aws/credentials",
        "[default]\naws_access_key_id = palgen-test\naws_secret_access_key = palgen-test\n",
    );
    sandbox.write(".aws/config", "[default]\nregion = us-east-1\n");

    let s3_port = free_port();
    let mut moto = Daemon::spawn(
        &sandbox,
        "moto",
        // As the test's own user: the tool lives in the repository's .venv.
        Command::new(tool("moto_server")).args(["-H", "127.0.0.1", "-p", &s3_port.to_string()]),
    );
    moto.wait_until_ready(|| http_get(s3_port, "/").map(|_| ()));

    // The profile, with the S3-compatible endpoint of this test.
    let profiles = tempfile::tempdir().unwrap();
    std::fs::write(
        profiles.path().join("archived.yaml"),
        format!(
            "extends: aws-small\nengine: cloudnative-pg\ncloudnative_pg:\n  \
             backup_destination: s3://paless-backups/postgres\n  \
             backup_endpoint: http://127.0.0.1:{s3_port}\n"
        ),
    )
    .unwrap();
    let built = palgen(&[
        "--profiles-dir",
        profiles.path().to_str().unwrap(),
        "build",
        "--profile",
        "archived",
    ]);
    assert!(built.status.success(), "{}", stderr(&built));
    let objects: Vec<Value> = serde_saphyr::from_multiple(&stdout(&built)).unwrap();
    let archive = archive_of(&objects);
    let parameters = objects.iter().find(|o| o["kind"] == "Cluster").unwrap()["spec"]["postgresql"]
        ["parameters"]
        .as_object()
        .unwrap()
        .clone();

    // A bucket of the destination, as the cloud account would have it.
    let bucket = archive
        .destination
        .strip_prefix("s3://")
        .and_then(|rest| rest.split('/').next())
        .unwrap();
    let created = Command::new(common::repo_root().join(".venv/bin/python"))
        .envs([
            ("AWS_ACCESS_KEY_ID", "palgen-test"),
            ("AWS_SECRET_ACCESS_KEY", "palgen-test"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
        ])
        .args([
            "-c",
            "import boto3, sys; boto3.client('s3', endpoint_url=sys.argv[1]).create_bucket(Bucket=sys.argv[2])",
        ])
        .arg(format!("http://127.0.0.1:{s3_port}"))
        .arg(bucket)
        .output()
        .unwrap();
    assert!(created.status.success(), "{}", stderr(&created));

    let wal_archive = debian_program("barman-cloud-wal-archive", "barman-cli-cloud");
    let wal_restore = debian_program("barman-cloud-wal-restore", "barman-cli-cloud");
    let backup = debian_program("barman-cloud-backup", "barman-cli-cloud");
    let restore = debian_program("barman-cloud-restore", "barman-cli-cloud");
    let list = debian_program("barman-cloud-backup-list", "barman-cli-cloud");
    let target = [archive.destination.clone(), archive.server_name.clone()];

    // The primary: the Cluster's parameters, and WAL archiving as the
    // plugin does it.
    let mut archive_command = vec![wal_archive.display().to_string()];
    archive_command.extend(archive.wal_args.iter().cloned());
    archive_command.extend(target.iter().cloned());
    archive_command.push("%p".to_owned());
    let conf = format!(
        "{}wal_level = 'replica'\narchive_mode = 'on'\narchive_command = '{}'\n",
        conf_from_parameters(&parameters),
        shell_words(&archive_command).replace('\'', "''")
    );
    let conf = conf_for_server(&conf, server_major()).text;
    let credentials = write_credentials(&sandbox);
    let data = sandbox.dir("data");
    initdb(&sandbox, &data, &credentials);
    let config = sandbox.write("primary.conf", &conf);
    let hba = sandbox.write("pg_hba.conf", &hba_for_test("local all all peer\n"));
    let sockets = sandbox.dir("sockets");
    // The Cluster's parameters carry no ssl settings (the operator fixes
    // them); the harness still wants the TLS mount a pod would have.
    let tls = pg::write_tls(
        &sandbox,
        "tls",
        &pg::ServerCertificate {
            dns_names: vec!["localhost".to_owned()],
            key_mode: 0o600,
        },
    );
    let socket_dir = sockets.to_str().unwrap().to_owned();
    let primary = Server::start(
        &sandbox,
        &ServerSpec {
            name: "primary",
            data: &data,
            config: &config,
            hba: &hba,
            sockets: &sockets,
            tls: &tls,
            env: &[],
        },
    );
    primary.sql(
        "postgres",
        "CREATE TABLE documents (id int PRIMARY KEY, title text); \
         INSERT INTO documents VALUES (1, 'invoice'), (2, 'contract'), (3, 'receipt');",
    );

    let pg_env = [
        ("PGHOST", socket_dir.clone()),
        ("PGPORT", primary.port().to_string()),
        ("PGUSER", "postgres".to_owned()),
    ];
    run_ok(
        "barman-cloud-backup",
        sandbox
            .command(&backup)
            .args(&archive.backup_args)
            .args(&target)
            .envs(pg_env.iter().map(|(k, v)| (k, v))),
    );

    // After the base backup: a row only WAL replay can bring back, the
    // point to restore to, then the delete.
    primary.sql("postgres", "INSERT INTO documents VALUES (4, 'letter');");
    std::thread::sleep(Duration::from_millis(1100));
    let restore_point = primary.sql("postgres", "SELECT now()::text;");
    std::thread::sleep(Duration::from_millis(1100));
    primary.sql("postgres", "DELETE FROM documents WHERE id = 2;");
    primary.sql(
        "postgres",
        "INSERT INTO documents VALUES (5, 'after the delete');",
    );
    assert_eq!(
        primary.sql(
            "postgres",
            "SELECT string_agg(id::text, ',' ORDER BY id) FROM documents;"
        ),
        "1,3,4,5"
    );
    let last_segment = primary.sql("postgres", "SELECT pg_walfile_name(pg_switch_wal());");
    wait_until(Duration::from_secs(60), || {
        let archived = primary.sql(
            "postgres",
            "SELECT coalesce(last_archived_wal, '') || ' ' || failed_count FROM pg_stat_archiver;",
        );
        if archived.starts_with(&format!("{last_segment} ")) {
            Ok(())
        } else {
            Err(format!("archiver: {archived}, waiting for {last_segment}"))
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n--- server log:\n{}", primary.log()));
    let archived_failures = primary.sql("postgres", "SELECT failed_count FROM pg_stat_archiver;");
    drop(primary);

    // The object store holds the backup; restore it and replay WAL up to the
    // point before the delete.
    let listed = run_ok(
        "barman-cloud-backup-list",
        sandbox
            .command(&list)
            .args(&archive.restore_args)
            .args(["--format", "json"])
            .args(&target),
    );
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let backups = listed["backups_list"].as_array().unwrap();
    assert_eq!(backups.len(), 1, "{listed}");
    let backup_id = backups[0]["backup_id"].as_str().unwrap();

    let restored = sandbox.dir("restored");
    run_ok(
        "barman-cloud-restore",
        sandbox
            .command(&restore)
            .args(&archive.restore_args)
            .args(&target)
            .arg(backup_id)
            .arg(&restored),
    );
    sandbox.write("restored/recovery.signal", "");
    let mut restore_command = vec![wal_restore.display().to_string()];
    restore_command.extend(archive.restore_args.iter().cloned());
    restore_command.extend(target.iter().cloned());
    restore_command.extend(["%f".to_owned(), "%p".to_owned()]);
    let recovery_conf = format!(
        "{}restore_command = '{}'\nrecovery_target_time = '{restore_point}'\nrecovery_target_action = 'promote'\n",
        conf_from_parameters(&parameters),
        shell_words(&restore_command).replace('\'', "''")
    );
    let recovery_conf = sandbox.write(
        "recovery.conf",
        &conf_for_server(&recovery_conf, server_major()).text,
    );
    let recovered = Server::start(
        &sandbox,
        &ServerSpec {
            name: "recovered",
            data: &restored,
            config: &recovery_conf,
            hba: &hba,
            sockets: &sockets,
            tls: &tls,
            env: &[],
        },
    );
    wait_until(Duration::from_secs(60), || {
        match recovered
            .sql("postgres", "SELECT pg_is_in_recovery();")
            .as_str()
        {
            "f" => Ok(()),
            other => Err(format!("in recovery: {other}")),
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n--- server log:\n{}", recovered.log()));

    assert_eq!(
        recovered.sql(
            "postgres",
            "SELECT string_agg(id || ':' || title, ',' ORDER BY id) FROM documents;"
        ),
        "1:invoice,2:contract,3:receipt,4:letter",
        "the deleted row is back, the row written after the base backup came from WAL, \
         the row written after the delete is not there"
    );
    assert_eq!(
        archived_failures, "0",
        "every WAL segment archived at the first try"
    );
    assert!(
        recovered.log().contains("recovery stopping before commit"),
        "recovery stopped at the target, not at the end of WAL:\n{}",
        recovered.log()
    );
}
