package org.flserver.model;

import jakarta.persistence.Column;
import jakarta.persistence.DiscriminatorValue;
import jakarta.persistence.Entity;
import org.flserver.user.User;

/** A global model with SWAG's first and second moments of the weights (files, by SHA-256). */
@Entity
@DiscriminatorValue("SWAG")
public class SWAGModel extends GlobalModel {

    @Column(name = "swag_first_moment_sha256", length = 64)
    private String swagFirstMomentSha256;

    @Column(name = "swag_second_moment_sha256", length = 64)
    private String swagSecondMomentSha256;

    protected SWAGModel() {
    }

    public SWAGModel(User owner, int round, String name, String description) {
        super(owner, round, name, description);
    }

    @Override
    protected GlobalModel newInstanceForCopy(User owner) {
        SWAGModel copy = new SWAGModel(owner, getRound(), getName(), getDescription());
        copy.swagFirstMomentSha256 = swagFirstMomentSha256;
        copy.swagSecondMomentSha256 = swagSecondMomentSha256;
        return copy;
    }

    public String getSwagFirstMomentSha256() {
        return swagFirstMomentSha256;
    }

    public void setSwagFirstMomentSha256(String sha256) {
        this.swagFirstMomentSha256 = sha256;
    }

    public String getSwagSecondMomentSha256() {
        return swagSecondMomentSha256;
    }

    public void setSwagSecondMomentSha256(String sha256) {
        this.swagSecondMomentSha256 = sha256;
    }

    @Override
    public String typeName() {
        return "SWAG";
    }
}
