package org.flserver.model;

import jakarta.persistence.DiscriminatorValue;
import jakarta.persistence.Entity;
import jakarta.persistence.JoinColumn;
import jakarta.persistence.JoinTable;
import jakarta.persistence.ManyToMany;
import jakarta.persistence.OrderColumn;
import java.util.ArrayList;
import java.util.List;
import org.flserver.user.User;

/** An ensemble of global models (uncertainty method ENSEMBLE); it has no weights of its own. */
@Entity
@DiscriminatorValue("MEAN")
public class MeanModel extends GlobalModel {

    @ManyToMany
    @JoinTable(name = "mean_model_member",
            joinColumns = @JoinColumn(name = "mean_model_id"),
            inverseJoinColumns = @JoinColumn(name = "member_id"))
    @OrderColumn(name = "member_index")
    private List<GlobalModel> members = new ArrayList<>();

    protected MeanModel() {
    }

    public MeanModel(User owner, int round, String name, String description, List<GlobalModel> members) {
        super(owner, round, name, description);
        this.members = new ArrayList<>(members);
    }

    @Override
    protected GlobalModel newInstanceForCopy(User owner) {
        return new MeanModel(owner, getRound(), getName(), getDescription(), members);
    }

    public List<GlobalModel> getMembers() {
        return members;
    }

    @Override
    public String typeName() {
        return "MEAN";
    }
}
