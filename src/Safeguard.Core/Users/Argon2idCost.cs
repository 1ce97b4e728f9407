namespace Safeguard.Users;

/// <summary>The cost parameters of one Argon2id hash, as its self-describing string records them.</summary>
/// <param name="MemoryKib">Memory in KiB (<c>m</c>).</param>
/// <param name="Iterations">Passes (<c>t</c>).</param>
/// <param name="Parallelism">Lanes (<c>p</c>); libsodium computes one lane.</param>
public readonly record struct Argon2idCost(int MemoryKib, int Iterations, int Parallelism)
{
    /// <summary>The least memory configurable (OWASP's lowest setting, 7 MiB with 5 passes).</summary>
    public const int MinimumMemoryKib = 7168;

    /// <summary>The most memory configurable or read from a stored hash (1 GiB): a stored string cannot ask for more.</summary>
    public const int MaximumMemoryKib = 1024 * 1024;

    /// <summary>The most passes configurable or read from a stored hash.</summary>
    public const int MaximumIterations = 16;

    /// <summary>Memory times passes of OWASP's settings (19456 KiB x 2 and its equivalents round down to this).</summary>
    public const long OwaspFloor = 35840;

    /// <summary>Whether memory times passes reaches OWASP's settings.</summary>
    public bool MeetsOwaspFloor => (long)MemoryKib * Iterations >= OwaspFloor;

    /// <summary>Whether a hash made at this cost is weaker than <paramref name="wanted"/> in memory or passes, so is rehashed on the next sign-in.</summary>
    /// <param name="wanted">The configured cost.</param>
    /// <returns>True if either parameter is lower.</returns>
    public bool IsWeakerThan(Argon2idCost wanted) => MemoryKib < wanted.MemoryKib || Iterations < wanted.Iterations;
}
