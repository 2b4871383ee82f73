#!/usr/bin/env python3
"""Writes dist/ from the checked binaries of .ci/cross-build:

  loopops-mcp-VERSION-linux-x86_64.tar.gz     static musl binary
  loopops-mcp-VERSION-linux-aarch64.tar.gz    static musl binary
  loopops-mcp-VERSION-macos-universal2.tar.gz arm64 + x86_64, ad-hoc signed
  loopops-mcp-VERSION-windows-x86_64.zip      loopops-mcp.exe
  loopops-mcp.mcpb                            Claude Desktop bundle (manifest 0.2)
  SHA256SUMS                                  sha256sum -c format

Archives are reproducible: sorted entries, fixed times (SOURCE_DATE_EPOCH, else the
last commit's time), owner root, executables 0755. Each archive holds the binary,
README.md and a short INSTALL.txt.

Usage: package.py CROSS_DIR DIST_DIR VERSION
"""

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time
import zipfile

PLATFORMS = {
    "linux-x86_64": "loopops-mcp",
    "linux-aarch64": "loopops-mcp",
    "macos-universal2": "loopops-mcp",
    "windows-x86_64": "loopops-mcp.exe",
}

INSTALL = {
    "linux": "Copy loopops-mcp to a folder on your PATH (e.g. ~/.local/bin), then run\n"
             "  loopops-mcp login --issuer URL --client-id ID --api-url URL\n",
    "macos": "Copy loopops-mcp to a folder on your PATH (e.g. ~/.local/bin). If macOS says it\n"
             "cannot check it for malicious software (downloaded with a browser), run\n"
             "  xattr -d com.apple.quarantine ~/.local/bin/loopops-mcp\n"
             "To update while Claude runs it: delete the old file first (rm), then copy.\n"
             "Then: loopops-mcp login --issuer URL --client-id ID --api-url URL\n",
    "windows": "Copy loopops-mcp.exe to a folder of your own, e.g.\n"
               "  %LOCALAPPDATA%\\Programs\\loopops-mcp\\loopops-mcp.exe\n"
               "then in PowerShell:\n"
               "  & \"$env:LOCALAPPDATA\\Programs\\loopops-mcp\\loopops-mcp.exe\" login --issuer URL --client-id ID --api-url URL\n",
}


def source_date_epoch(root):
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return int(os.environ["SOURCE_DATE_EPOCH"])
    try:
        out = subprocess.run(["git", "-C", root, "log", "-1", "--format=%ct"],
                             capture_output=True, text=True, check=True)
        return int(out.stdout.strip())
    except (subprocess.CalledProcessError, ValueError, FileNotFoundError):
        return 315532800  # 1980-01-01, the earliest time a zip can store


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write_tar_gz(path, members, mtime):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, mode in sorted(members):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, mtime
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
    with open(path, "wb") as f:
        # mtime=0 and no file name in the gzip header: the same bytes every time.
        with gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="") as gz:
            gz.write(buf.getvalue())


def write_zip(path, members, mtime):
    stamp = time.gmtime(max(mtime, 315532800))[:6]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, data, mode in sorted(members):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.create_system = 3  # Unix, so that external_attr holds the mode
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)


def manifest(version):
    env = {
        "OKTA_ISSUER": "${user_config.okta_issuer}",
        "OKTA_CLIENT_ID": "${user_config.okta_client_id}",
        "API_URL": "${user_config.api_url}",
    }
    return {
        "manifest_version": "0.2",
        "name": "loopops-mcp",
        "display_name": "Loop Operations",
        "version": version,
        "description": "Accounts, deals, pipeline, forecasts and activities from Loop Operations.",
        "long_description": (
            "Loop Operations for Claude: look up accounts and deals, review pipeline and "
            "forecasts, log activities. Sign in once with your company's Okta account "
            "(the server asks for it in the chat, or run `loopops-mcp login`); the sign-in "
            "is kept in ~/.mcp.json, shared with Claude Code."
        ),
        "author": {"name": "Loop Operations"},
        "license": "UNLICENSED",
        "keywords": ["revops", "crm", "pipeline", "forecast"],
        "server": {
            "type": "binary",
            "entry_point": "server/loopops-mcp",
            "mcp_config": {
                "command": "${__dirname}/server/loopops-mcp",
                "args": ["serve"],
                "env": env,
                "platform_overrides": {
                    # Claude Desktop on macOS extracts bundles with mode 0600 whatever
                    # the zip says (mcpb#294): start the binary through sh, which
                    # restores the executable bit first (chmod leaves the signature
                    # valid), so a fresh install or an auto-update still starts.
                    "darwin": {
                        "command": "/bin/sh",
                        "args": [
                            "-c",
                            'chmod u+x "$0" 2>/dev/null; exec "$0" serve',
                            "${__dirname}/server/loopops-mcp",
                        ],
                        "env": env,
                    },
                    "win32": {
                        "command": "${__dirname}/server/loopops-mcp.exe",
                        "args": ["serve"],
                        "env": env,
                    },
                },
            },
        },
        "compatibility": {"platforms": ["darwin", "win32"]},
        "user_config": {
            "okta_issuer": {
                "type": "string",
                "title": "Okta issuer",
                "description": "Your company's Okta authorization server, e.g. "
                               "https://yourco.okta.com/oauth2/default (ask IT).",
                "required": True,
            },
            "okta_client_id": {
                "type": "string",
                "title": "Okta client ID",
                "description": "The client ID of the Loop Operations app in your Okta (ask IT).",
                "required": True,
            },
            "api_url": {
                "type": "string",
                "title": "Loop Operations API URL",
                "description": "Your Loop Operations API address, e.g. https://api.yourco.loopops.com",
                "required": True,
            },
        },
    }


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    cross, dist, version = sys.argv[1:]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    mtime = source_date_epoch(root)
    os.makedirs(dist, exist_ok=True)
    readme = read(os.path.join(root, "README.md"))
    written = []
    for platform, exe in PLATFORMS.items():
        binary = read(os.path.join(cross, platform, exe))
        family = platform.split("-")[0]
        top = f"loopops-mcp-{version}-{platform}"
        members = [
            (f"{top}/{exe}", binary, 0o755),
            (f"{top}/README.md", readme, 0o644),
            (f"{top}/INSTALL.txt", INSTALL[family].encode(), 0o644),
        ]
        if family == "windows":
            name = f"{top}.zip"
            write_zip(os.path.join(dist, name), members, mtime)
        else:
            name = f"{top}.tar.gz"
            write_tar_gz(os.path.join(dist, name), members, mtime)
        written.append(name)

    os.makedirs(os.path.join(dist, "mcpb"), exist_ok=True)
    man = json.dumps(manifest(version), indent=2) + "\n"
    # The unpacked bundle too, for `mcpb validate` and for people who read it.
    with open(os.path.join(dist, "mcpb", "manifest.json"), "w") as f:
        f.write(man)
    bundle = [
        ("manifest.json", man.encode(), 0o644),
        ("server/loopops-mcp", read(os.path.join(cross, "macos-universal2", "loopops-mcp")), 0o755),
        ("server/loopops-mcp.exe", read(os.path.join(cross, "windows-x86_64", "loopops-mcp.exe")), 0o755),
        ("README.md", readme, 0o644),
    ]
    write_zip(os.path.join(dist, "loopops-mcp.mcpb"), bundle, mtime)
    written.append("loopops-mcp.mcpb")
    check_bundle(os.path.join(dist, "loopops-mcp.mcpb"))

    with open(os.path.join(dist, "SHA256SUMS"), "w") as f:
        for name in sorted(written):
            digest = hashlib.sha256(read(os.path.join(dist, name))).hexdigest()
            f.write(f"{digest}  {name}\n")
    for name in sorted(written):
        print(f"dist/{name}: {os.path.getsize(os.path.join(dist, name))} bytes")


def check_bundle(path):
    """What Claude Desktop needs of the bundle, read back from the zip itself."""
    with zipfile.ZipFile(path) as z:
        infos = {i.filename: i for i in z.infolist()}
        m = json.loads(z.read("manifest.json"))
        for f in ("server/loopops-mcp", "server/loopops-mcp.exe"):
            mode = infos[f].external_attr >> 16
            if infos[f].create_system != 3 or mode & 0o777 != 0o755:
                sys.exit(f"error: {f} is stored with mode {oct(mode)}, want 0755")
        if m["manifest_version"] != "0.2" or m["server"]["type"] != "binary":
            sys.exit("error: manifest must be version 0.2 with server.type binary")
        if m["server"]["entry_point"] not in infos:
            sys.exit("error: the entry point is not in the bundle")
        text = json.dumps(m)
        if "REFRESH_TOKEN" in text:
            sys.exit("error: the bundle must never carry a refresh token setting")
        overrides = m["server"]["mcp_config"]["platform_overrides"]
        if set(overrides) != {"darwin", "win32"}:
            sys.exit("error: platform_overrides must cover darwin and win32")
    print(f"bundle {os.path.basename(path)}: manifest 0.2, binaries stored 0755, no token setting")


if __name__ == "__main__":
    main()
