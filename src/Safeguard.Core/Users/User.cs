namespace Safeguard.Users;

/// <summary>
/// A person who signs in (164.312(a)(2)(i) unique user identification). <see cref="Subject"/> is the opaque,
/// immutable <c>sub</c> tokens carry: generated, never reused (users are disabled, never deleted) and never equal to a
/// client id. The username and e-mail address are unique and may change; nothing refers to them.
/// </summary>
public sealed record User
{
    /// <summary>The opaque subject identifier (<see cref="UserSubjects"/>).</summary>
    public required string Subject { get; init; }

    /// <summary>The username as entered (NFKC); unique without regard to case.</summary>
    public required string Username { get; init; }

    /// <summary>The e-mail address, if any; unique without regard to case.</summary>
    public string? Email { get; init; }

    /// <summary>The roles, sorted and distinct.</summary>
    public IReadOnlyList<string> Roles { get; init; } = [];

    /// <summary>Whether the user may sign in.</summary>
    public UserStatus Status { get; init; } = UserStatus.Active;

    /// <summary>The Argon2id hash of the password (<see cref="PasswordHasher"/>); null until the user sets one at enrolment.</summary>
    public string? PasswordHash { get; init; }

    /// <summary>When the password was last set.</summary>
    public DateTimeOffset? PasswordChangedAt { get; init; }

    /// <summary>Consecutive failed sign-ins since the last success or unlock.</summary>
    public int FailedSignIns { get; init; }

    /// <summary>When the last failed sign-in happened (the back-off runs from it).</summary>
    public DateTimeOffset? LastFailedSignInAt { get; init; }

    /// <summary>When the user was created.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>The last change; also the concurrency token of <see cref="IUserStore.UpdateAsync"/>.</summary>
    public DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>Whether a user may sign in.</summary>
public enum UserStatus
{
    /// <summary>May sign in.</summary>
    Active,

    /// <summary>Disabled by an administrator; the subject stays reserved.</summary>
    Disabled,

    /// <summary>Locked after too many failed sign-ins; an administrator unlocks it.</summary>
    Locked,
}
