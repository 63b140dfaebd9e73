# Packaging targets, included by the top-level Makefile (`-include packaging/packaging.mk`).
#   make deb            .deb  (cargo-deb)           -> target/packages/
#   make rpm            .rpm  (cargo-generate-rpm)  -> target/packages/
#   make package-check  both packages + lintian, rpmlint, systemd-analyze verify/security,
#                       install/remove/purge into scratch roots (never the host)
#   make systemd-e2e    real systemd as PID 1 in a private namespace: install the .deb (then the
#                       .rpm); socket activation, notify, watchdog, journald, credentials,
#                       restart under load, reload, clean stop, upgrade, remove, purge
# Tools: packaging/install-tools.sh (root, Debian 12). `build` comes from the top-level Makefile.

OT_TARGET   ?= x86_64-unknown-linux-musl
OT_BIN      := target/$(OT_TARGET)/release/opentrusty
OT_DOCS     := target/opentrusty-docs
OT_PKGDIR   := target/packages
OT_VERSION  := $(shell sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n1)
OT_DEB      := $(OT_PKGDIR)/opentrusty_$(OT_VERSION)-1_amd64.deb
OT_RPM      := $(OT_PKGDIR)/opentrusty-$(OT_VERSION)-1.x86_64.rpm

.PHONY: deb rpm package-docs package-check systemd-e2e deb-tools rpm-tools

# A fresh checkout lacks the packaging tools: stop with one line naming the installer instead of
# a page of cargo or linker errors further down.
OT_NEED_TOOLS = { echo "packaging: $(1) is missing; run: sh packaging/install-tools.sh (as root, installs every packaging tool)" >&2; exit 1; }
deb-tools:
	@command -v musl-gcc >/dev/null 2>&1 || $(call OT_NEED_TOOLS,musl-gcc (musl-tools))
	@rustup target list --installed 2>/dev/null | grep -qx $(OT_TARGET) || $(call OT_NEED_TOOLS,the Rust target $(OT_TARGET))
	@cargo deb --version >/dev/null 2>&1 || $(call OT_NEED_TOOLS,cargo-deb)
rpm-tools:
	@command -v musl-gcc >/dev/null 2>&1 || $(call OT_NEED_TOOLS,musl-gcc (musl-tools))
	@rustup target list --installed 2>/dev/null | grep -qx $(OT_TARGET) || $(call OT_NEED_TOOLS,the Rust target $(OT_TARGET))
	@cargo generate-rpm --version >/dev/null 2>&1 || $(call OT_NEED_TOOLS,cargo-generate-rpm)

# Man page (gzip'd, no name/timestamp for reproducibility) and completions from the CLI definition.
package-docs: build
	rm -rf $(OT_DOCS)
	$(OT_BIN) gen-docs --out $(OT_DOCS)
	gzip -9nf $(OT_DOCS)/opentrusty.8

deb: deb-tools package-docs ## .deb package (cargo-deb) in target/packages
	mkdir -p $(OT_PKGDIR)
	cargo deb --no-build --no-strip --target $(OT_TARGET) --output $(OT_DEB)

rpm: rpm-tools package-docs ## .rpm package (cargo-generate-rpm) in target/packages
	mkdir -p $(OT_PKGDIR)
	cargo generate-rpm --target $(OT_TARGET) --output $(OT_RPM)

package-check: deb rpm ## lint both packages, check the units, install/upgrade/remove/purge in scratch roots
	sh packaging/package-check.sh $(OT_DEB) $(OT_RPM)

systemd-e2e: deb rpm ## real systemd as PID 1 in a namespace: install, socket activation, restart under load
	sh packaging/systemd-e2e.sh $(OT_DEB)
