package org.flserver.user;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.JoinColumn;
import jakarta.persistence.JoinTable;
import jakarta.persistence.ManyToMany;
import jakarta.persistence.NamedQuery;
import jakarta.persistence.Table;
import java.time.OffsetDateTime;
import java.util.HashSet;
import java.util.Set;
import java.util.UUID;

/**
 * A person or a client site. The {@code actor} and {@code client} flags are informational, as in
 * the reference server (api.md §1); {@code messageEndpoint} is where round notifications go.
 * The password is stored only as a PBKDF2 hash ({@link PasswordHasher}); the token is the
 * 40-hex-digit API key clients send as {@code Authorization: Token ...}.
 */
@Entity
@Table(name = "fl_user")
@NamedQuery(name = User.BY_TOKEN, query = "SELECT u FROM User u WHERE u.token = :token")
@NamedQuery(name = User.BY_USERNAME, query = "SELECT u FROM User u WHERE u.username = :username")
@NamedQuery(name = User.ALL, query = "SELECT u FROM User u ORDER BY u.dateJoined, u.username")
public class User {

    public static final String BY_TOKEN = "User.byToken";
    public static final String BY_USERNAME = "User.byUsername";
    public static final String ALL = "User.all";

    @Id
    private UUID id;

    @Column(nullable = false, unique = true, length = 150)
    private String username;

    @Column(name = "password_hash", nullable = false)
    private String passwordHash;

    @Column(name = "first_name", nullable = false, length = 150)
    private String firstName = "";

    @Column(name = "last_name", nullable = false, length = 150)
    private String lastName = "";

    @Column(nullable = false, length = 254)
    private String email = "";

    @Column(nullable = false)
    private boolean actor;

    @Column(nullable = false)
    private boolean client;

    @Column(nullable = false)
    private boolean superuser;

    @Column(name = "message_endpoint", nullable = false, length = 2048)
    private String messageEndpoint = "";

    @Column(nullable = false, unique = true, length = 40)
    private String token;

    @Column(name = "date_joined", nullable = false)
    private OffsetDateTime dateJoined;

    @ManyToMany
    @JoinTable(name = "fl_user_group",
            joinColumns = @JoinColumn(name = "user_id"),
            inverseJoinColumns = @JoinColumn(name = "group_id"))
    private Set<Group> groups = new HashSet<>();

    protected User() {
    }

    public User(String username, String passwordHash, String token) {
        this.id = UUID.randomUUID();
        this.username = username;
        this.passwordHash = passwordHash;
        this.token = token;
        this.dateJoined = OffsetDateTime.now();
    }

    public UUID getId() {
        return id;
    }

    public String getUsername() {
        return username;
    }

    public String getPasswordHash() {
        return passwordHash;
    }

    public void setPasswordHash(String passwordHash) {
        this.passwordHash = passwordHash;
    }

    public String getFirstName() {
        return firstName;
    }

    public void setFirstName(String firstName) {
        this.firstName = firstName;
    }

    public String getLastName() {
        return lastName;
    }

    public void setLastName(String lastName) {
        this.lastName = lastName;
    }

    public String getEmail() {
        return email;
    }

    public void setEmail(String email) {
        this.email = email;
    }

    public boolean isActor() {
        return actor;
    }

    public void setActor(boolean actor) {
        this.actor = actor;
    }

    public boolean isClient() {
        return client;
    }

    public void setClient(boolean client) {
        this.client = client;
    }

    public boolean isSuperuser() {
        return superuser;
    }

    public void setSuperuser(boolean superuser) {
        this.superuser = superuser;
    }

    public String getMessageEndpoint() {
        return messageEndpoint;
    }

    public void setMessageEndpoint(String messageEndpoint) {
        this.messageEndpoint = messageEndpoint;
    }

    public String getToken() {
        return token;
    }

    public OffsetDateTime getDateJoined() {
        return dateJoined;
    }

    public Set<Group> getGroups() {
        return groups;
    }
}
