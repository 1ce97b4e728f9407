namespace Safeguard.Users;

/// <summary>Where users' second factors are kept.</summary>
public interface IAuthenticatorStore
{
    /// <summary>A user's authenticators, oldest first.</summary>
    /// <param name="subject">The user's subject.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The authenticators.</returns>
    Task<IReadOnlyList<Authenticator>> GetForUserAsync(string subject, CancellationToken cancellationToken);

    /// <summary>Adds authenticators of one user in one transaction (all or none).</summary>
    /// <param name="authenticators">The authenticators.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes when they are durable.</returns>
    Task AddAsync(IReadOnlyList<Authenticator> authenticators, CancellationToken cancellationToken);

    /// <summary>
    /// Records a use in one statement, only if the stored counter is below <paramref name="counter"/>: of two uses of
    /// the same code, on any node, exactly one succeeds. Resets the failure count.
    /// </summary>
    /// <param name="id">The authenticator.</param>
    /// <param name="counter">The TOTP time step used, or 1 for a recovery code.</param>
    /// <param name="at">When.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>True if this use is the first at that counter.</returns>
    Task<bool> TryUseAsync(string id, long counter, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>Counts a failed attempt against each of the given authenticators.</summary>
    /// <param name="ids">The authenticators tried.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>The highest failure count among them after this one.</returns>
    Task<int> RecordFailureAsync(IReadOnlyList<string> ids, CancellationToken cancellationToken);

    /// <summary>Removes every authenticator of a user (an administrator's MFA reset).</summary>
    /// <param name="subject">The user's subject.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>How many were removed.</returns>
    Task<int> RemoveAllAsync(string subject, CancellationToken cancellationToken);

    /// <summary>The passkey with this WebAuthn credential id, or null.</summary>
    /// <param name="credentialId">The credential id.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The passkey.</returns>
    Task<Authenticator?> FindByCredentialIdAsync(byte[] credentialId, CancellationToken cancellationToken);

    /// <summary>
    /// Records a passkey use in one statement, only if the new signature counter is above the stored one or both are 0
    /// (an authenticator that keeps no counter). False means a counter that did not rise: a possible clone.
    /// </summary>
    /// <param name="id">The passkey.</param>
    /// <param name="signCount">The counter the authenticator reported.</param>
    /// <param name="backedUp">The backup-state flag of this assertion.</param>
    /// <param name="at">When.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>True if recorded.</returns>
    Task<bool> TryUsePasskeyAsync(string id, long signCount, bool backedUp, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>Removes one authenticator of a user.</summary>
    /// <param name="subject">The user's subject.</param>
    /// <param name="id">The authenticator.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>True if it existed and was removed.</returns>
    Task<bool> RemoveAsync(string subject, string id, CancellationToken cancellationToken);
}
