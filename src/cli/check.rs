//! `portcullis config check`: validates settings and Portkey configs the way `serve` would.

use std::io::Read;
use std::path::PathBuf;

use portcullis_config::{BuildCtx, HostPolicy, OpenCatalog, PortkeyHeaders, build_plan};
use portcullis_server::Settings;

pub fn run(settings: Option<PathBuf>, portkey: Option<PathBuf>) -> Result<(), String> {
    if settings.is_none() && portkey.is_none() {
        return Err("nothing to check: pass --settings FILE and/or --portkey FILE".into());
    }
    let mut trusted = Settings::default().trusted_custom_hosts;
    if let Some(path) = settings {
        let s = Settings::from_file(&path).map_err(|e| e.to_string())?;
        if let Some(catalog) = &s.catalog {
            let hosts = HostPolicy::with_trusted(&s.trusted_custom_hosts)?;
            let vars = portcullis_server::declarative::check(catalog, &hosts)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            for v in vars.iter().filter(|v| std::env::var(v).is_err()) {
                eprintln!(
                    "note: the catalog reads environment variable {v}, which is not set here \
                     (serve refuses to start without it)"
                );
            }
        }
        trusted = s.trusted_custom_hosts;
        println!("{}: ok", path.display());
    }
    if let Some(path) = portkey {
        let text = if path.as_os_str() == "-" {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| e.to_string())?;
            s
        } else {
            std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        };
        let hosts = HostPolicy::with_trusted(&trusted)?;
        let ctx = BuildCtx {
            hosts: &hosts,
            catalog: &OpenCatalog,
        };
        let headers = PortkeyHeaders {
            config: Some(text),
            debug: true,
            ..Default::default()
        };
        match build_plan(&ctx, &headers, None) {
            Ok(plan) => println!(
                "{}: ok ({} target(s))",
                path.display(),
                plan.targets().len()
            ),
            Err(e) => {
                let mut msg = format!("{}: {}", path.display(), e.message());
                for item in e.errors() {
                    msg.push_str("\n  - ");
                    msg.push_str(item);
                }
                return Err(msg);
            }
        }
    }
    Ok(())
}
