import ArgumentParser
import Foundation
import ReelAPI
import ReelStore

/// `reel token create|list|revoke`: the bearer tokens of the REST API. A token carries a namespace (its tenant)
/// and a role; only its hash is stored, so the secret is printed once.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Create, list and revoke REST API tokens.",
        subcommands: [Create.self, List.self, Revoke.self])

    /// Who changed tokens, for the audit log.
    static var actor: String { "cli:\(ProcessInfo.processInfo.environment["USER"] ?? "unknown")" }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a token and print it (once: only its hash is kept).")

        @OptionGroup var where_: StateOptions

        @Option(help: "viewer (read), editor (read and write jobs) or admin (also the audit log).")
        var role: TokenRole = .viewer

        @Option(help: "The token's name (default: generated), unique in its namespace.")
        var name: String?

        @Option(help: "Lifetime: 90d, 12h, 30m or 3600s (default: no expiry).")
        var expires: String?

        func run() async throws {
            let lifetime = try expires.map(TokenCommand.duration)
            let name = name ?? "token-\(UUID().uuidString.prefix(8).lowercased())"
            let namespace = where_.namespace
            let created: (secret: String, token: APIToken)
            do {
                created = try await where_.withDatabase { database in
                    let created = try await database.tokens.create(
                        name: name, namespace: namespace, role: role, expiresIn: lifetime)
                    try await database.audit.append(
                        AuditEntry(
                            tokenName: TokenCommand.actor, namespace: namespace, verb: "create",
                            resource: "tokens/\(name)",
                            requestID: nil, clientAddress: "local", code: 201))
                    return created
                }
            } catch let error as TokenError {
                throw CLIFailure(error.description)
            }
            let (secret, token) = created
            let expiry = token.expiresAt.map { ", expires \(Timestamp($0))" } ?? ""
            FileHandle.standardError.write(
                Data("token \(token.name): \(token.role.rawValue) of namespace \(token.namespace)\(expiry)\n".utf8))
            print(secret)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens (never their secrets).")

        @OptionGroup var where_: StateOptions

        func run() async throws {
            let namespace = where_.allNamespaces ? nil : where_.namespace
            let tokens = try await where_.withDatabase { try await $0.tokens.list(namespace: namespace) }
            var rows = [["NAMESPACE", "NAME", "ROLE", "CREATED", "EXPIRES", "LAST USED", "STATE"]]
            let now = Date()
            for token in tokens {
                let state =
                    token.revokedAt != nil
                    ? "revoked" : (token.expiresAt.map { $0 < now } ?? false) ? "expired" : "live"
                rows.append([
                    token.namespace, token.name, token.role.rawValue, Timestamp(token.createdAt).description,
                    token.expiresAt.map { Timestamp($0).description } ?? "never",
                    token.lastUsedAt.map { Timestamp($0).description } ?? "never", state,
                ])
            }
            let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
            for row in rows {
                print(
                    row.enumerated().map { $1.padding(toLength: widths[$0] + 3, withPad: " ", startingAt: 0) }.joined()
                        .trimmingCharacters(in: .whitespaces))
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token: it stops working at once.")

        @OptionGroup var where_: StateOptions

        @Argument(help: "The token's name.")
        var name: String

        func run() async throws {
            let namespace = where_.namespace
            do {
                try await where_.withDatabase { database in
                    try await database.tokens.revoke(name: name, namespace: namespace)
                    try await database.audit.append(
                        AuditEntry(
                            tokenName: TokenCommand.actor, namespace: namespace, verb: "revoke",
                            resource: "tokens/\(name)", requestID: nil, clientAddress: "local", code: 200))
                }
            } catch let error as TokenError {
                throw CLIFailure(error.description)
            }
            print("token \(name) of namespace \(namespace) revoked")
        }
    }

    /// `90d`, `12h`, `30m`, `3600s` or plain seconds.
    static func duration(_ text: String) throws -> Duration {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800]
        let unit = text.last.flatMap { units[$0] }
        guard let value = Double(unit == nil ? text : String(text.dropLast())), value > 0 else {
            throw ValidationError("--expires \(text): use a number with s, m, h, d or w (90d, 12h)")
        }
        return .seconds(value * (unit ?? 1))
    }
}

extension TokenRole: ExpressibleByArgument {}
