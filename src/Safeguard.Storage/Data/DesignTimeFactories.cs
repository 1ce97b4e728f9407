using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Safeguard.Storage.Data;

/// <summary>For <c>dotnet ef migrations add ... --context SqliteSafeguardDbContext</c>: no database is touched.</summary>
public sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteSafeguardDbContext>
{
    /// <inheritdoc />
    public SqliteSafeguardDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqliteSafeguardDbContext>().UseSqlite("Data Source=design-time.db").Options);
}

/// <summary>For <c>dotnet ef migrations add ... --context PostgresSafeguardDbContext</c>: no database is touched.</summary>
public sealed class PostgresDesignTimeFactory : IDesignTimeDbContextFactory<PostgresSafeguardDbContext>
{
    /// <inheritdoc />
    public PostgresSafeguardDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PostgresSafeguardDbContext>().UseNpgsql("Host=localhost;Database=design_time").Options);
}
