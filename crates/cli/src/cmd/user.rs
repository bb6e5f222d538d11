//! `renkou user add|passwd|disable|enable`: users of the web application, from the machine's operator.

use std::process::ExitCode;

use anyhow::bail;
use renkou_app::auth::{self, NewUser};
use renkou_app::users;

use crate::cli::{UserAddArgs, UserCommand, UserPasswdArgs, UserStateArgs};

pub fn run(c: UserCommand) -> anyhow::Result<ExitCode> {
    match c {
        UserCommand::Add(a) => add(a),
        UserCommand::Passwd(a) => passwd(a),
        UserCommand::Disable(a) => set_disabled(a, true),
        UserCommand::Enable(a) => set_disabled(a, false),
    }
}

fn add(a: UserAddArgs) -> anyhow::Result<ExitCode> {
    let Some(role) = auth::parse_role(&a.role) else {
        bail!(
            "未知角色 {:?} (unknown role); 可选 (choose): {}",
            a.role,
            auth::roles().iter().map(|r| format!("{} ({})", r.code(), r.name_zh())).collect::<Vec<_>>().join(", ")
        );
    };
    if !a.db.exists() {
        bail!("数据库文件不存在 (database file not found): {}", a.db.display());
    }
    let generated = a.password.is_none();
    let password = a.password.unwrap_or_else(auth::generate_password);
    super::runtime()?.block_on(async {
        let store = super::db::open_write(&a.db).await?;
        // The machine's operator may add a user for any area of the register.
        let operator = match renkou_core::area::AreaCode::parse(&a.area) {
            Ok(code) => auth::Caller::operator(code),
            Err(_) => auth::Caller::operator(auth::operator_area(&store, None).await?),
        };
        let u = auth::add_user(
            &store,
            &operator,
            &NewUser { username: a.username, password: password.clone(), role, area: a.area, display_name: a.name },
            chrono::Utc::now(),
        )
        .await;
        super::db::close(store).await?;
        let u = u?;
        println!("已添加用户 (user added): {} · {} · {}", u.username, u.role.name_zh(), u.area);
        if generated {
            println!("密码 (password): {password}");
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn passwd(a: UserPasswdArgs) -> anyhow::Result<ExitCode> {
    let generated = a.password.is_none();
    let password = a.password.unwrap_or_else(auth::generate_password);
    super::runtime()?.block_on(async {
        if !a.db.exists() {
            bail!("数据库文件不存在 (database file not found): {}", a.db.display());
        }
        let store = super::db::open_write(&a.db).await?;
        let r = match auth::operator_area(&store, None).await {
            Ok(area) => auth::set_password(&store, &auth::Caller::operator(area), &a.username, &password, chrono::Utc::now()).await,
            Err(e) => Err(e),
        };
        super::db::close(store).await?;
        r?;
        println!("已重设密码 (password set): {}", a.username);
        if generated {
            println!("密码 (password): {password}");
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Disables or enables a user as the operator of the user's area (`renkou_app::users::operator_for`).
fn set_disabled(a: UserStateArgs, disabled: bool) -> anyhow::Result<ExitCode> {
    super::runtime()?.block_on(async {
        if !a.db.exists() {
            bail!("数据库文件不存在 (database file not found): {}", a.db.display());
        }
        let store = super::db::open_write(&a.db).await?;
        let now = chrono::Utc::now();
        let r = match users::operator_for(&store, &a.username).await {
            Ok(operator) => users::set_disabled_by_username(&store, &operator, &a.username, disabled, now).await,
            Err(e) => Err(e),
        };
        super::db::close(store).await?;
        let acc = r?;
        if disabled {
            println!("已停用用户 (user disabled): {} · 停用时间 (since) {}", acc.user.username, acc.disabled_at.unwrap_or_default());
        } else {
            println!("已启用用户 (user enabled): {}", acc.user.username);
        }
        Ok(ExitCode::SUCCESS)
    })
}
