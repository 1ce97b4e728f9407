using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Safeguard.Users;

/// <summary>
/// A link an administrator gives a user to set a password and enrol a second factor: a 256-bit random code in the
/// URL, of which only a hash is stored. It works once (spent atomically when enrolment completes, on any node) and
/// until it expires (<see cref="SignInOptions.EnrolmentLinkLifetime"/>); a new link for the same user replaces any
/// unspent one.
/// </summary>
public sealed record EnrolmentLink
{
    /// <summary>SHA-256 of the code under a domain label.</summary>
#pragma warning disable CA1819 // A hash, stored as is.
    public required byte[] Hash { get; init; }
#pragma warning restore CA1819

    /// <summary>The user it enrols.</summary>
    public required string Subject { get; init; }

    /// <summary>When it was issued.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it stops working.</summary>
    public DateTimeOffset ExpiresAt { get; init; }

    /// <summary>When it was spent, if it was.</summary>
    public DateTimeOffset? UsedAt { get; init; }
}

/// <summary>Where enrolment links are kept (hashes only).</summary>
public interface IEnrolmentLinkStore
{
    /// <summary>Adds a link and removes every unspent link of the same user, in one transaction.</summary>
    /// <param name="link">The link.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes when the link is durable.</returns>
    Task AddAsync(EnrolmentLink link, CancellationToken cancellationToken);

    /// <summary>One link by hash, or null.</summary>
    /// <param name="hash">The hash of the code.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The link.</returns>
    Task<EnrolmentLink?> FindAsync(byte[] hash, CancellationToken cancellationToken);

    /// <summary>Spends a link in one statement, only if it is unspent and unexpired at <paramref name="at"/>: of two uses, exactly one succeeds.</summary>
    /// <param name="hash">The hash of the code.</param>
    /// <param name="at">When.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>True if this use spent it.</returns>
    Task<bool> TryUseAsync(byte[] hash, DateTimeOffset at, CancellationToken cancellationToken);
}

/// <summary>Issues, finds and spends enrolment links.</summary>
public sealed class EnrolmentLinks
{
    /// <summary>The path of the enrolment page on the server.</summary>
    public const string Path = "/enrol";

    private const int CodeBytes = 32;
    private static readonly byte[] Label = "safeguard-enrolment-link-v1\0"u8.ToArray();

    private readonly IEnrolmentLinkStore _store;
    private readonly SignInOptions _options;
    private readonly TimeProvider _time;

    /// <summary>Creates the service.</summary>
    /// <param name="store">The link store.</param>
    /// <param name="options">The sign-in options (the link lifetime).</param>
    /// <param name="time">The clock.</param>
    public EnrolmentLinks(IEnrolmentLinkStore store, IOptions<SignInOptions> options, TimeProvider time)
    {
        _store = store ?? throw new ArgumentNullException(nameof(store));
        _options = OptionsGuard.Validated(new SignInOptionsValidator(), options);
        _time = time ?? throw new ArgumentNullException(nameof(time));
    }

    /// <summary>Issues a new link for <paramref name="user"/>, replacing any unspent one.</summary>
    /// <param name="user">The user.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>The stored link and the code to put in the URL (shown once, never stored).</returns>
    public async Task<(EnrolmentLink Link, string Code)> IssueAsync(User user, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(user);
        var random = RandomNumberGenerator.GetBytes(CodeBytes);
        var code = Base64Url.EncodeToString(random);
        CryptographicOperations.ZeroMemory(random);
        var now = _time.GetUtcNow();
        var link = new EnrolmentLink { Hash = Hash(code), Subject = user.Subject, CreatedAt = now, ExpiresAt = now + _options.EnrolmentLinkLifetime };
        await _store.AddAsync(link, cancellationToken).ConfigureAwait(false);
        return (link, code);
    }

    /// <summary>The link URL on a server.</summary>
    /// <param name="issuer">The server's issuer (its https origin).</param>
    /// <param name="code">The code.</param>
    /// <returns>The URL.</returns>
    public static string UrlFor(string issuer, string code)
    {
        ArgumentNullException.ThrowIfNull(issuer);
        return $"{issuer.TrimEnd('/')}{Path}?code={Uri.EscapeDataString(code)}";
    }

    /// <summary>The unspent, unexpired link <paramref name="code"/> names, or null (also for anything malformed).</summary>
    /// <param name="code">The code as presented.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The link.</returns>
    public async Task<EnrolmentLink?> FindLiveAsync(string? code, CancellationToken cancellationToken)
    {
        if (!IsWellFormed(code))
        {
            return null;
        }

        var link = await _store.FindAsync(Hash(code!), cancellationToken).ConfigureAwait(false);
        return link is { UsedAt: null } && _time.GetUtcNow() < link.ExpiresAt ? link : null;
    }

    /// <summary>Spends the link <paramref name="code"/> names.</summary>
    /// <param name="code">The code.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>True if this use spent it; false if it was spent, expired or unknown.</returns>
    public Task<bool> UseAsync(string? code, CancellationToken cancellationToken) =>
        IsWellFormed(code) ? _store.TryUseAsync(Hash(code!), _time.GetUtcNow(), cancellationToken) : Task.FromResult(false);

    /// <summary>43 base64url characters.</summary>
    public static bool IsWellFormed(string? code) =>
        code is { Length: 43 } && code.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    private static byte[] Hash(string code)
    {
        var bytes = new byte[Label.Length + code.Length];
        Label.CopyTo(bytes, 0);
        Encoding.ASCII.GetBytes(code, bytes.AsSpan(Label.Length));
        return SHA256.HashData(bytes);
    }
}
